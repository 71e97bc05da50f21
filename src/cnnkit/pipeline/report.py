"""The report of a run folder: what `cnnkit report` calls, and what training writes at its end."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnkit.common.files import atomic_write
from cnnkit.interpret import Predictions, collect_predictions
from cnnkit.pipeline.classifier import load_classifier
from cnnkit.pipeline.run_folder import REPORT_FILE, RunFolder, load_run
from cnnkit.pipeline.tta import with_tta
from cnnkit.report import render_report

__all__ = ["write_report", "write_run_report"]


def write_run_report(
    run: RunFolder,
    model: Any = None,
    predictions: Predictions | None = None,
    out: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Renders the report of ``run`` from what is given and writes it (``run.path/report.html`` by default)."""
    page = render_report(
        run.path.name,
        run.class_names,
        history=run.history,
        metrics=run.metrics,
        model=model,
        predictions=predictions,
        progress=progress,
    )
    target = Path(out) if out is not None else run.path / REPORT_FILE
    return atomic_write(target, page)


def write_report(
    run_dir: str | os.PathLike,
    model: Any = None,
    dataset: Any = None,
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Writes ``run_dir/report.html`` from what training left in the run folder.

    Reads ``history.csv``, ``metrics.json``, ``class_names.json`` and ``model.cnnkit``; the validation images (for
    the confusion matrix, the misclassified examples and Grad-CAM) come from ``dataset``, else from the data folder
    recorded in ``metrics.json`` (or ``data_dir``) split as in training.

    Example:
        >>> cnnkit.pipeline.write_report("runs/fashion")  # doctest: +SKIP
        PosixPath('runs/fashion/report.html')
    """
    say = progress or (lambda msg: None)
    run = load_run(run_dir)
    if model is None and run.model_path.is_file():
        model = load_classifier(run.model_path).model
    if dataset is None:
        dataset = run.validation_dataset(data_dir)
    predictions = None
    if model is not None and dataset is not None:
        say("predicting the validation set")
        # As training evaluated: with flip test-time augmentation when the run used it.
        predictions = collect_predictions(with_tta(model, bool(run.metrics.get("tta"))), dataset, keep_images=True)
    return write_run_report(run, model=model, predictions=predictions, out=out, progress=progress)
