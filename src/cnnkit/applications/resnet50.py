"""``keras.applications.resnet50``: Keras' ResNet50 with 'caffe' preprocessing (the same as ``resnet``).

Example:
    >>> import numpy as np
    >>> from cnnkit.applications import resnet50
    >>> resnet50.preprocess_input(np.zeros((1, 4, 4, 3)))[0, 0, 0]  # BGR, ImageNet mean subtracted
    array([-103.939, -116.779, -123.68 ], dtype=float32)
"""

from cnnkit.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
