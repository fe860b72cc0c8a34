"""The mtlspec grammar (``mtlspec.lark``), shipped as package data of ``mtlspec.grammar``."""
