"""The package version, alone in a module so that any room (and setuptools) can read it without importing cnnkit."""

__version__ = "0.1.0"
