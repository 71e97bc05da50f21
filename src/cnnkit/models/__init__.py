"""Models: ``Sequential``, the functional ``Model(inputs, outputs)``, subclassing, saving and loading."""

from cnnkit.models.cloning import clone_model
from cnnkit.models.functional import Functional
from cnnkit.models.model import Model
from cnnkit.models.sequential import Sequential
from cnnkit.saving import load_model, model_from_json, save_model

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
