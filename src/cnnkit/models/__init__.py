"""Models: ``Sequential``, the functional ``Model(inputs, outputs)``, subclassing, saving and loading."""

from cnnkit.models.functional import Functional
from cnnkit.models.model import Model
from cnnkit.models.saving import load_model, model_from_json
from cnnkit.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "load_model", "model_from_json"]
