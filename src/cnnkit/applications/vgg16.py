"""Keras-style module alias: ``cnnkit.applications.vgg16`` as ``keras.applications.vgg16``.

``preprocess_input`` defaults to torchvision's preprocessing (the 'imagenet' weights); pass ``mode='caffe'`` for
weights loaded from Keras' files.
"""

from cnnkit.applications.vgg import VGG16, decode_predictions, preprocess_input

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]
