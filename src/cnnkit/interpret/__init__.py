"""Why a CNN decides what it decides: Grad-CAM, feature maps, filters, confusion matrix, top losses.

The functions return NumPy arrays; plotting them is :mod:`cnnkit.report.plots`.
"""

from cnnkit.interpret.confusion import (
    Predictions,
    TopLosses,
    collect_predictions,
    confusion_matrix,
    per_class_metrics,
    top_losses,
)
from cnnkit.interpret.feature_maps import feature_maps
from cnnkit.interpret.filters import filters
from cnnkit.interpret.gradcam import default_cam_layer, grad_cam
from cnnkit.interpret.hooks import Hook, Hooks, hook_output, hook_outputs
from cnnkit.interpret.utils import probabilities

__all__ = [
    "Hook",
    "Hooks",
    "Predictions",
    "TopLosses",
    "collect_predictions",
    "confusion_matrix",
    "default_cam_layer",
    "feature_maps",
    "filters",
    "grad_cam",
    "hook_output",
    "hook_outputs",
    "per_class_metrics",
    "probabilities",
    "top_losses",
]
