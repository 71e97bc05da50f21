"""The former name of Keras' ResNet50 in cnnkit: ``KerasResNet50`` is ``cnnkit.applications.ResNet50``.

``ResNet50`` is now Keras' model with Keras' layer names (``resnet.py``); torchvision's v1.5 is ``ResNet50_TV``.
This module keeps old code working.

Example:
    >>> import cnnkit
    >>> cnnkit.applications.KerasResNet50 is cnnkit.applications.ResNet50
    True
"""

from cnnkit.applications.resnet import WEIGHTS as _TABLES
from cnnkit.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["KerasResNet50", "preprocess_input", "decode_predictions", "WEIGHTS"]

KerasResNet50 = ResNet50
WEIGHTS = _TABLES["ResNet50"]
