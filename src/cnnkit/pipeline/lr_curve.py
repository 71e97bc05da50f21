"""The learning-rate range test of a run: run it on the training data, write its curve and numbers to the run folder.

``cnnkit train --lr auto`` and ``cnnkit lr-find`` both call :func:`find_learning_rate`; the run folder gets
``lr_find.png`` (the curve, the suggested rate marked) and ``lr_find.json`` (the curve and the suggestions).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnkit.callbacks import LRFinderResult
from cnnkit.pipeline.run_folder import write_json
from cnnkit.report.plots import lr_find_png, save_png

__all__ = ["LR_FIND_JSON", "LR_FIND_PNG", "auto_learning_rate", "find_learning_rate", "read_lr_find"]

LR_FIND_PNG = "lr_find.png"
LR_FIND_JSON = "lr_find.json"


def find_learning_rate(
    model: Any,
    dataset: Any,
    run_dir: str | os.PathLike,
    num_iter: int = 100,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    progress: Callable[[str], None] | None = None,
) -> LRFinderResult:
    """Runs ``model.lr_find`` on ``dataset`` and writes ``lr_find.png`` and ``lr_find.json`` into ``run_dir``.

    The model must be compiled; it is left exactly as it was (weights and optimizer state).

    Example:
        >>> result = find_learning_rate(model, train_dataset, "runs/flowers")  # doctest: +SKIP
        >>> result.suggestion  # doctest: +SKIP
        0.0021
    """
    say = progress or (lambda msg: None)
    say(f"Finding the learning rate: range test from {start_lr:g} to {end_lr:g} over {num_iter} batches ...")
    result = model.lr_find(dataset, num_iter=num_iter, start_lr=start_lr, end_lr=end_lr)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    save_png(lr_find_png(result.lrs, result.losses, result.suggestion), run / LR_FIND_PNG)
    write_json(run / LR_FIND_JSON, result.to_dict())
    stop = "the loss diverged" if result.diverged else "the sweep ended"
    say(f"Suggested learning rate: {result.suggestion:.3g} ({len(result.lrs)} batches, {stop}).")
    return result


def read_lr_find(run_dir: str | os.PathLike) -> dict | None:
    """``lr_find.json`` of a run folder, or None when the run did not use the finder."""
    path = Path(run_dir) / LR_FIND_JSON
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def auto_learning_rate(
    model: Any, dataset: Any, run_dir: str | os.PathLike, resuming: bool, progress: Callable[[str], None] | None
) -> dict:
    """``--lr auto``: the range test on the compiled model (left as it was); returns the curve and the suggestion.

    A resumed run keeps the rate it found the first time: the curve and suggestion are read back from
    ``lr_find.json``.
    """
    saved = read_lr_find(run_dir) if resuming else None
    if saved is not None:
        return saved
    return find_learning_rate(model, dataset, run_dir, progress=progress).to_dict()
