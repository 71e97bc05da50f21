"""The jobs behind the `cnnkit` command line, as library functions: train, evaluate, predict, explain, demo."""

from cnnkit.pipeline.explain import explain_image
from cnnkit.pipeline.inference import (
    Classifier,
    Evaluation,
    evaluate_directory,
    load_classifier,
    load_images,
    predict_images,
)
from cnnkit.pipeline.inspect import DataSummary, inspect_directory
from cnnkit.pipeline.models import available_models, build_classifier, choose_defaults
from cnnkit.pipeline.train import TrainConfig, TrainResult, train_from_directory

__all__ = [
    "Classifier",
    "DataSummary",
    "Evaluation",
    "TrainConfig",
    "TrainResult",
    "available_models",
    "build_classifier",
    "choose_defaults",
    "evaluate_directory",
    "explain_image",
    "inspect_directory",
    "load_classifier",
    "load_images",
    "predict_images",
    "train_from_directory",
]
