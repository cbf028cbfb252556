"""The package version: the one place it is written (read by the build and by `bh.__version__`)."""

__version__ = "0.1.0"
