"""cnnkit: from a folder of images to an accurate, explained, deployable CNN, with a Keras-faithful API on PyTorch."""

__version__ = "0.1.0"
