"""Exporters that turn a compiled multi-task model into deployable files.

- `mtlspec.exporters.onnx.export(model, path)`: ONNX with one named output per task and a
  dynamic batch axis, checked by `onnx.checker` and compared with PyTorch in onnxruntime
  before it is written (atomically). `mtlspec build` is its command line.

Installed as ``mtlspec.exporters`` (a setuptools package-dir mapping), so no generic
top-level ``exporters`` module lands in site-packages. Exporters import torch, onnx and
onnxruntime; the CLI imports them only inside the commands that need them.
"""
