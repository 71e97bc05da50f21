"""Saving and loading, as ``keras.saving``: every file format cnnkit reads or writes, each read defensively.

Modules: ``serialization`` (configs), ``archive`` (the ``.cnnkit`` model file), ``weights`` (weights alone and the one
match rule), ``formats`` (what a file is), ``keras_h5`` (Keras weight files), ``torch_pth`` (torchvision ``.pth``),
``checkpoint`` (exact-resume checkpoints).
"""

from cnnkit.saving.archive import load_model, save_model
from cnnkit.saving.serialization import (
    deserialize_keras_object,
    deserialize_layer,
    model_from_json,
    serialize_keras_object,
    serialize_layer,
)
from cnnkit.saving.weights import load_weights, save_weights

__all__ = [
    "deserialize_keras_object",
    "deserialize_layer",
    "load_model",
    "load_weights",
    "model_from_json",
    "save_model",
    "save_weights",
    "serialize_keras_object",
    "serialize_layer",
]
