"""Keras-named layers (``cnnkit.layers.Conv2D`` ...), each a ``torch.nn.Module``."""

from cnnkit.layers.activation_layers import ELU, PReLU, SpatialDropout2D
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.conv import Conv2D, Convolution2D
from cnnkit.layers.conv1d import Conv1D, Convolution1D
from cnnkit.layers.conv_depthwise import DepthwiseConv2D, SeparableConv2D
from cnnkit.layers.conv_transpose import Conv2DTranspose, Convolution2DTranspose
from cnnkit.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, LeakyReLU, ReLU, Softmax
from cnnkit.layers.lambda_layer import Lambda
from cnnkit.layers.layer_normalization import GroupNormalization, LayerNormalization
from cnnkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from cnnkit.layers.preprocessing.rescaling import Rescaling
from cnnkit.layers.registry import register_layer
from cnnkit.layers.reshaping import Cropping2D, Permute, Reshape, UpSampling2D, ZeroPadding2D
from cnnkit.layers.residual import LayerScale, StochasticDepth
from cnnkit.layers.serialization import deserialize, serialize
from cnnkit.layers.variable import Variable

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

# Issue 11: the layers real Keras programs use, the functional forms of the merge layers, serialize/deserialize.
__all__ += [
    "Conv1D",
    "Conv2DTranspose",
    "Convolution1D",
    "Convolution2DTranspose",
    "DepthwiseConv2D",
    "ELU",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "GroupNormalization",
    "Lambda",
    "LayerNormalization",
    "PReLU",
    "SeparableConv2D",
    "SpatialDropout2D",
    "Variable",
    "add",
    "average",
    "concatenate",
    "deserialize",
    "maximum",
    "minimum",
    "multiply",
    "serialize",
    "subtract",
]

# Keras' ConvNeXt layers (keras.applications.convnext.LayerScale / StochasticDepth), registered for saving.
__all__ += ["LayerScale", "StochasticDepth"]
