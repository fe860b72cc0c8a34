"""mtlspec: multi-task learning architectures as declarative specs.

The pipeline flows one way: spec text → IR → blocks → model → cost/export.
Importing this package is cheap: nothing here pulls in torch.
"""

__version__ = "0.1.0"
