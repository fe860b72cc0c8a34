"""Exporters that turn a compiled multi-task model into deployable files.

Installed as ``mtlspec.exporters`` (a setuptools package-dir mapping), so no generic
top-level ``exporters`` module lands in site-packages.
"""
