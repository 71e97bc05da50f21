"""Keras-style module alias: ``cnnkit.applications.vgg19`` as ``keras.applications.vgg19``.

``preprocess_input`` defaults to torchvision's preprocessing (the 'imagenet' weights); pass ``mode='caffe'`` for
weights loaded from Keras' files.
"""

from cnnkit.applications.vgg import VGG19, decode_predictions, preprocess_input

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
