"""Keras' VGG19 (``keras.applications.vgg19``): the builder of ``vgg16`` with 4 convs in blocks 3-5.

Example:
    >>> import cnnkit
    >>> cnnkit.applications.VGG19(include_top=False, input_shape=(32, 32, 3)).get_layer("block5_conv4").name
    'block5_conv4'
"""

from cnnkit.applications.imagenet_utils import decode_predictions
from cnnkit.applications.vgg16 import WEIGHTS as _TABLES
from cnnkit.applications.vgg16 import converter, make, preprocess_input

__all__ = ["VGG19", "preprocess_input", "decode_predictions", "from_torchvision", "WEIGHTS"]

WEIGHTS = _TABLES["VGG19"]
from_torchvision = converter(19)
VGG19 = make(19)
