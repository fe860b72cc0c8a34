"""Spec + backbone blocks → PyTorch multi-task models (imports torch)."""
