"""Preprocessing and augmentation layers (``keras.layers.Resizing``, ``RandomFlip``, ``Normalization``, ...)."""
