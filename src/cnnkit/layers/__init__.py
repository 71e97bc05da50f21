"""Keras-named layers (``cnnkit.layers.Conv2D`` ...), each a ``torch.nn.Module``."""

from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv import Conv2D, Convolution2D
from cnnkit.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, LeakyReLU, ReLU, Softmax
from cnnkit.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from cnnkit.layers.preprocessing.rescaling import Rescaling
from cnnkit.layers.registry import register_layer
from cnnkit.layers.reshaping import Cropping2D, Permute, Reshape, UpSampling2D, ZeroPadding2D

__all__ = [
    "Activation",
    "Add",
    "Average",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Concatenate",
    "Conv2D",
    "Convolution2D",
    "Cropping2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "InputSpec",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Permute",
    "ReLU",
    "Rescaling",
    "Reshape",
    "Softmax",
    "Subtract",
    "UpSampling2D",
    "ZeroPadding2D",
    "register_layer",
]

# image preprocessing and augmentation (data helper)
from cnnkit.layers.preprocessing.image import (
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
)
from cnnkit.layers.preprocessing.normalization import Normalization

__all__ += [
    "CenterCrop",
    "Normalization",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Resizing",
]
