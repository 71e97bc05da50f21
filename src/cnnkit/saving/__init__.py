"""Saving and loading, as ``keras.saving``: every file format cnnkit reads or writes, each read defensively.

Modules: ``object_registration`` (what a config may name), ``serialization`` (configs, cnnkit's and Keras'),
``keras_config`` (models in Keras' config form), ``keras_format`` (``.keras`` files), ``archive`` (the ``.cnnkit``
model file and ``load_model``/``save_model``), ``weights`` (weights alone and the one match rule), ``formats`` (what
a file is), ``keras_h5`` (Keras weight files), ``torch_pth`` (torchvision ``.pth``), ``checkpoint`` (exact-resume
checkpoints).
"""

from cnnkit.saving.archive import load_model, save_model
from cnnkit.saving.keras_config import compile_args_from_config
from cnnkit.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from cnnkit.saving.serialization import (
    deserialize_keras_object,
    deserialize_layer,
    model_from_json,
    serialize_keras_object,
    serialize_layer,
)
from cnnkit.saving.weights import load_weights, save_weights

__all__ = [
    "CustomObjectScope",
    "compile_args_from_config",
    "custom_object_scope",
    "deserialize_keras_object",
    "deserialize_layer",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "model_from_json",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
    "serialize_layer",
]
