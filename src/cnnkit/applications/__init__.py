"""The model zoo: Keras-style builders, a registry, pretrained weights and converters.

Example:
    >>> import cnnkit, numpy as np
    >>> base = cnnkit.applications.ResNet50(weights="imagenet", include_top=False)  # downloads  # doctest: +SKIP
    >>> cnnkit.applications.list_models("VGG*")
    ['VGG11', 'VGG11_BN', 'VGG13', ...]
    >>> images = np.zeros((2, 224, 224, 3), dtype="float32")  # RGB, 0..255
    >>> cnnkit.applications.resnet50.preprocess_input(images).shape
    (2, 224, 224, 3)
"""

from cnnkit.applications import (
    alexnet,
    keras_resnet,
    lenet,
    resnet,
    resnet50,
    resnet_cifar,
    resnet_small,
    transfer,
    vgg,
    vgg16,
    vgg19,
)
from cnnkit.applications.alexnet import AlexNet
from cnnkit.applications.imagenet_utils import decode_predictions, preprocess_input
from cnnkit.applications.keras_resnet import KerasResNet50
from cnnkit.applications.lenet import LeNet5
from cnnkit.applications.registry import get_model, get_model_entry, list_models, register_model
from cnnkit.applications.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from cnnkit.applications.resnet_cifar import ResNet20, ResNet32, ResNet44, ResNet56, ResNet110
from cnnkit.applications.resnet_small import ResNetM, ResNetS
from cnnkit.applications.transfer import fine_tune
from cnnkit.applications.vgg import VGG11, VGG11_BN, VGG13, VGG13_BN, VGG16, VGG16_BN, VGG19, VGG19_BN

__all__ = [
    "AlexNet", "KerasResNet50", "LeNet5",
    "ResNet18", "ResNet20", "ResNet32", "ResNet34", "ResNet44", "ResNet50", "ResNet56", "ResNet101", "ResNet110",
    "ResNet152", "ResNetM", "ResNetS", "VGG11", "VGG11_BN", "VGG13", "VGG13_BN", "VGG16", "VGG16_BN", "VGG19",
    "VGG19_BN", "alexnet", "keras_resnet", "lenet", "resnet", "resnet50", "resnet_cifar", "resnet_small", "transfer",
    "vgg", "vgg16", "vgg19",
    "decode_predictions", "fine_tune", "get_model", "get_model_entry", "list_models", "preprocess_input",
    "register_model",
]  # fmt: skip
