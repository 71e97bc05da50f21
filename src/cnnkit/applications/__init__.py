"""The model zoo: Keras' ``keras.applications`` models with Keras' layer names, torchvision-style models, a
registry, pretrained weights and converters.

Example:
    >>> import cnnkit, numpy as np
    >>> base = cnnkit.applications.ResNet50(weights="imagenet", include_top=False)  # downloads  # doctest: +SKIP
    >>> cnnkit.applications.list_models("VGG1*")
    ['VGG11', 'VGG11_BN', 'VGG13', 'VGG13_BN', 'VGG16', 'VGG16_BN', 'VGG16_TV', 'VGG19', 'VGG19_BN', 'VGG19_TV']
    >>> images = np.zeros((2, 224, 224, 3), dtype="float32")  # RGB, 0..255
    >>> cnnkit.applications.resnet50.preprocess_input(images).shape
    (2, 224, 224, 3)
"""

from cnnkit.applications import (
    alexnet,
    convnext,
    densenet,
    efficientnet,
    efficientnet_v2,
    inception_resnet_v2,
    inception_v3,
    keras_resnet,
    lenet,
    mobilenet,
    mobilenet_v2,
    mobilenet_v3,
    nasnet,
    resnet,
    resnet50,
    resnet_cifar,
    resnet_small,
    resnet_torchvision,
    resnet_v2,
    transfer,
    vgg,
    vgg16,
    vgg19,
    xception,
)
from cnnkit.applications.alexnet import AlexNet
from cnnkit.applications.convnext import ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall, ConvNeXtTiny, ConvNeXtXLarge
from cnnkit.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from cnnkit.applications.efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
)
from cnnkit.applications.efficientnet_v2 import (
    EfficientNetV2B0,
    EfficientNetV2B1,
    EfficientNetV2B2,
    EfficientNetV2B3,
    EfficientNetV2L,
    EfficientNetV2M,
    EfficientNetV2S,
)
from cnnkit.applications.imagenet_utils import decode_predictions, preprocess_input
from cnnkit.applications.inception_resnet_v2 import InceptionResNetV2
from cnnkit.applications.inception_v3 import InceptionV3
from cnnkit.applications.keras_resnet import KerasResNet50
from cnnkit.applications.lenet import LeNet5
from cnnkit.applications.mobilenet import MobileNet
from cnnkit.applications.mobilenet_v2 import MobileNetV2
from cnnkit.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from cnnkit.applications.nasnet import NASNetLarge, NASNetMobile
from cnnkit.applications.registry import get_model, get_model_entry, list_models, register_model
from cnnkit.applications.resnet import ResNet50, ResNet101, ResNet152
from cnnkit.applications.resnet_cifar import ResNet20, ResNet32, ResNet44, ResNet56, ResNet110
from cnnkit.applications.resnet_small import ResNetM, ResNetS, ResNetXS
from cnnkit.applications.resnet_torchvision import ResNet18, ResNet34, ResNet50_TV, ResNet101_TV, ResNet152_TV
from cnnkit.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from cnnkit.applications.transfer import fine_tune
from cnnkit.applications.vgg import VGG11, VGG11_BN, VGG13, VGG13_BN, VGG16_BN, VGG16_TV, VGG19_BN, VGG19_TV
from cnnkit.applications.vgg16 import VGG16
from cnnkit.applications.vgg19 import VGG19
from cnnkit.applications.xception import Xception

__all__ = [
    "AlexNet", "DenseNet121", "DenseNet169", "DenseNet201", "InceptionResNetV2", "InceptionV3", "KerasResNet50",
    "LeNet5", "ResNet18", "ResNet20", "ResNet32", "ResNet34", "ResNet44", "ResNet50", "ResNet50_TV", "ResNet50V2",
    "ResNet56", "ResNet101", "ResNet101_TV", "ResNet101V2", "ResNet110", "ResNet152", "ResNet152_TV", "ResNet152V2",
    "ResNetM", "ResNetS", "ResNetXS",
    "VGG11", "VGG11_BN", "VGG13", "VGG13_BN", "VGG16", "VGG16_BN", "VGG16_TV", "VGG19", "VGG19_BN", "VGG19_TV",
    "alexnet", "densenet", "inception_resnet_v2", "inception_v3", "keras_resnet", "lenet", "resnet", "resnet50",
    "resnet_cifar", "resnet_small", "resnet_torchvision", "resnet_v2", "transfer", "vgg", "vgg16", "vgg19",
    "decode_predictions", "fine_tune", "get_model", "get_model_entry", "list_models", "preprocess_input",
    "register_model",
]  # fmt: skip

# The mobile and modern families (Keras' names and modules).
__all__ += [
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
    "EfficientNetB6", "EfficientNetB7", "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "Xception",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
    "EfficientNetV2M", "EfficientNetV2L", "efficientnet", "efficientnet_v2", "mobilenet", "mobilenet_v2",
    "mobilenet_v3", "xception", "NASNetMobile", "NASNetLarge", "nasnet",
]  # fmt: skip

# ConvNeXt (Keras' names and module).
__all__ += ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge", "convnext"]
