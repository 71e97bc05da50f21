"""The jobs behind the `cnnkit` command line and the web app, as library functions: train, evaluate, predict,
explain, report, demo; and the run folder they share (:mod:`cnnkit.pipeline.run_folder`)."""

from cnnkit.pipeline.classifier import Classifier, load_classifier, load_images
from cnnkit.pipeline.evaluate import Evaluation, evaluate_directory
from cnnkit.pipeline.explain import explain_image
from cnnkit.pipeline.inspect import DataSummary, inspect_directory
from cnnkit.pipeline.models import available_models, build_classifier, choose_defaults
from cnnkit.pipeline.predict import predict_images
from cnnkit.pipeline.report import write_report
from cnnkit.pipeline.run_folder import RunFolder, load_run
from cnnkit.pipeline.train import TrainConfig, TrainResult, train_from_directory

__all__ = [
    "Classifier",
    "DataSummary",
    "Evaluation",
    "RunFolder",
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
    "load_run",
    "predict_images",
    "train_from_directory",
    "write_report",
]
