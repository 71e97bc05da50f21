"""Keras-style module alias: ``cnnkit.applications.resnet50`` as ``keras.applications.resnet50``.

``ResNet50`` here is torchvision's (the default 'imagenet' weights, 'torch' preprocessing); Keras' own variant and
its caffe preprocessing are ``cnnkit.applications.keras_resnet``.
"""

from cnnkit.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
