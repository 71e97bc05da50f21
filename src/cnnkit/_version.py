"""The package version, in a module of its own so that any room (and setuptools) can read it without importing cnnkit."""

__version__ = "0.1.0"
