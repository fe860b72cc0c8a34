"""`python -m mtlspec` runs the command line."""

from mtlspec.cli import main

main()
