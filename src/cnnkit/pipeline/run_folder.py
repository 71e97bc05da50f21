"""The run folder: what `cnnkit train` writes there, and reading it back for `cnnkit report`, evaluate and explain.

A run folder holds ``model.cnnkit`` (the trained model), ``history.csv`` (one row per epoch, as CSVLogger writes it),
``metrics.json`` (final validation metrics, the confusion matrix, and under ``"data"`` how the data was loaded and
split, so that the validation set can be rebuilt), ``class_names.json`` and ``report.html``. While training runs it
also holds ``backup/`` (BackupAndRestore) and ``checkpoint.best.cnnkit``; both go when the run completes.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit.common.files import atomic_write_json
from cnnkit.utils import image_dataset_from_directory

__all__ = [
    "BACKUP_DIR",
    "BEST_CHECKPOINT",
    "CLASS_NAMES_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "REPORT_FILE",
    "RunFolder",
    "load_run",
    "read_history",
    "write_json",
]

MODEL_FILE = "model.cnnkit"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CLASS_NAMES_FILE = "class_names.json"
REPORT_FILE = "report.html"
BACKUP_DIR = "backup"
BEST_CHECKPOINT = "checkpoint.best.cnnkit"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as indented JSON, atomically."""
    return atomic_write_json(path, obj, indent=2)


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """``history.csv`` as ``{column: [value per epoch]}`` (the ``epoch`` column and non-numbers left out)."""
    out: dict[str, list[float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k is None or k == "epoch" or v in (None, ""):
                    continue
                try:
                    out.setdefault(k, []).append(float(v))
                except ValueError:
                    continue
    return out


@dataclass
class RunFolder:
    """A run folder and what it holds: the per-epoch history, the metrics and the class names."""

    path: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def files(self) -> dict[str, Path]:
        """What a completed run leaves, by role: model, history, metrics, class_names, report."""
        names = {
            "model": MODEL_FILE,
            "history": HISTORY_FILE,
            "metrics": METRICS_FILE,
            "class_names": CLASS_NAMES_FILE,
            "report": REPORT_FILE,
        }
        return {role: self.path / name for role, name in names.items()}

    def validation_dataset(self, data_dir: str | os.PathLike | None = None) -> Any:
        """The validation set as training split it, rebuilt from ``metrics.json``'s ``"data"`` (None if unknown).

        With ``data_dir``, every image of that folder instead, loaded as training loaded images.
        """
        data = dict(self.metrics.get("data") or {})
        directory = data_dir or data.get("directory")
        if not directory or not Path(directory).is_dir():
            return None
        split = data.get("validation_split") or None
        kwargs: dict[str, Any] = {
            "label_mode": "int",
            "color_mode": data.get("color_mode", "rgb"),
            "batch_size": int(data.get("batch_size", 32)),
            "image_size": tuple(data.get("image_size", (256, 256))),
            "shuffle": False,
        }
        if split and data_dir is None:
            kwargs.update(validation_split=split, subset="validation", seed=data.get("seed", 0), shuffle=True)
        return image_dataset_from_directory(str(directory), **kwargs)


def load_run(run_dir: str | os.PathLike) -> RunFolder:
    """Reads a run folder; missing files give empty fields, a missing folder a clear error."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(
            f"The run folder does not exist. Expected a folder written by `cnnkit train`. "
            f"Received: run_dir={str(run_dir)!r}. Check the path (e.g. runs/NAME)."
        )
    run = RunFolder(path=path)
    if (path / HISTORY_FILE).is_file():
        run.history = read_history(path / HISTORY_FILE)
    if (path / METRICS_FILE).is_file():
        run.metrics = json.loads((path / METRICS_FILE).read_text(encoding="utf-8"))
    if (path / CLASS_NAMES_FILE).is_file():
        run.class_names = [str(c) for c in json.loads((path / CLASS_NAMES_FILE).read_text(encoding="utf-8"))]
    if not (run.metrics or run.class_names or run.model_path.is_file()):
        raise ValueError(
            "The folder is not a cnnkit run. Expected model.cnnkit, metrics.json or class_names.json in it. "
            f"Received: run_dir={str(run_dir)!r}. Pass the --out folder of `cnnkit train`."
        )
    return run
