"""Keras' ``keras.preprocessing`` (the image helpers older tutorials import from here)."""

from cnnkit.preprocessing import image

__all__ = ["image"]
