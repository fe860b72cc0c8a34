"""`python -m mtlspec` runs the command line."""

from mtlspec.cli import main

if __name__ == "__main__":
    main()
