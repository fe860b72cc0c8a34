"""`python -m mtlspec` runs the command line."""

from mtlspec.cli import run

if __name__ == "__main__":
    run()
