"""Evaluating a trained classifier on a folder of labelled images (what `cnnkit evaluate` calls)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnkit.interpret import Predictions, collect_predictions, confusion_matrix, per_class_metrics
from cnnkit.pipeline.classifier import Classifier
from cnnkit.pipeline.inspect import inspect_directory, unsupported_message
from cnnkit.pipeline.tta import with_tta
from cnnkit.utils import image_dataset_from_directory

__all__ = ["Evaluation", "evaluate_directory", "evaluation_of"]


@dataclass
class Evaluation:
    """How a classifier did on labelled images: accuracy, mean loss, confusion matrix and per-class metrics."""

    class_names: list[str]
    accuracy: float
    loss: float
    confusion_matrix: np.ndarray
    per_class: dict[str, np.ndarray]
    num_images: int

    def per_class_dict(self, digits: int | None = None) -> dict[str, dict[str, float | int]]:
        """``{class: {precision, recall, f1, support}}``, the rates rounded to ``digits`` if given."""

        def rate(v: Any) -> float:
            return float(v) if digits is None else round(float(v), digits)

        return {
            c: {k: rate(self.per_class[k][i]) for k in ("precision", "recall", "f1")}
            | {"support": int(self.per_class["support"][i])}
            for i, c in enumerate(self.class_names)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "num_images": self.num_images,
            "class_names": self.class_names,
            "confusion_matrix": self.confusion_matrix.tolist(),
            "per_class": self.per_class_dict(),
        }


def evaluation_of(preds: Predictions, class_names: list[str]) -> Evaluation:
    """The :class:`Evaluation` of predictions already made (labels index ``class_names``)."""
    cm = confusion_matrix(preds.y_true, preds.y_pred, len(class_names))
    return Evaluation(
        list(class_names), preds.accuracy, float(np.mean(preds.losses)), cm, per_class_metrics(cm), len(preds.y_true)
    )


def evaluate_directory(
    clf: Classifier, data_dir: str, batch_size: int = 64, verbose: bool = False, tta: bool = False
) -> Evaluation:
    """Accuracy, loss, confusion matrix and per-class metrics of the classifier on a folder of class folders.

    With ``tta`` the probabilities are averaged over each image and its mirror (flip test-time augmentation).
    """
    summary = inspect_directory(data_dir)
    warning = unsupported_message(summary)
    if warning:
        logging.getLogger("cnnkit.pipeline").warning(warning)
    unknown = [c for c in summary.class_names if c not in clf.class_names]
    if unknown:
        raise ValueError(
            f"The data folder has classes the model does not know. Expected class folders among {clf.class_names}. "
            f"Received: {unknown} in DATA_DIR={data_dir!r}. Evaluate on data with the training classes."
        )
    data = image_dataset_from_directory(
        data_dir,
        label_mode="int",
        class_names=[c for c in clf.class_names if c in summary.class_names],
        color_mode=clf.color_mode,
        image_size=clf.image_size,
        batch_size=batch_size,
        shuffle=False,
        verbose=verbose,
        cache=False,
    )
    # Labels index the folder's classes; map them to the model's class indices.
    to_model = np.array([clf.class_names.index(c) for c in data.class_names])
    preds = collect_predictions(with_tta(clf.model, tta), ((x, to_model[np.asarray(y)]) for x, y in data))
    return evaluation_of(preds, clf.class_names)
