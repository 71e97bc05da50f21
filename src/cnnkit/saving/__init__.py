"""Saving and loading, as ``keras.saving``: every file format cnnkit reads or writes, each read defensively."""

from cnnkit.saving.archive import load_model, save_model
from cnnkit.saving.serialization import deserialize_layer, model_from_json, serialize_layer
from cnnkit.saving.weights import load_weights, save_weights

__all__ = [
    "deserialize_layer",
    "load_model",
    "load_weights",
    "model_from_json",
    "save_model",
    "save_weights",
    "serialize_layer",
]
