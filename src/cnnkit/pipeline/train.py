"""From a folder of images to a trained classifier in a run folder (what `cnnkit train` calls)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnkit.pipeline.inspect import DataSummary, inspect_directory
from cnnkit.pipeline.models import TUTORIAL, build_classifier, choose_defaults

__all__ = ["TrainConfig", "TrainResult", "train_from_directory"]

BACKUP_DIR = "backup"
BEST_CHECKPOINT = "checkpoint.best.cnnkit"


@dataclass
class TrainConfig:
    """Everything `cnnkit train` can set; ``None`` means "choose from the data"."""

    data_dir: str
    out: str
    model: str | None = None
    pretrained: bool = False
    epochs: int = 10
    batch_size: int = 32
    image_size: int | None = None
    validation_split: float = 0.2
    augment: bool = True
    lr: float = 1e-3
    seed: int = 1337
    patience: int = 3
    cache: bool | str = True
    verbose: int = 1
    callbacks: list = field(default_factory=list)  # extra Keras-style callbacks, run after the built-in ones


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    report_path: Path | None
    metrics: dict[str, Any]
    class_names: list[str]
    resumed: bool = False
    files: dict[str, Path] = field(default_factory=dict)


def _augmentation(grayscale: bool) -> list[Any]:
    """Light augmentation applied to training batches only: small shifts, and flips for colour photos."""
    from cnnkit import layers

    aug = []
    if not grayscale and hasattr(layers, "RandomFlip"):
        aug.append(layers.RandomFlip("horizontal"))
    if hasattr(layers, "RandomTranslation"):
        aug.append(layers.RandomTranslation(0.1, 0.1, fill_mode="constant"))
    return aug


def _datasets(cfg: TrainConfig, summary: DataSummary, size: int, color_mode: str) -> tuple[Any, Any]:
    from cnnkit.utils import image_dataset_from_directory

    kwargs: dict[str, Any] = dict(
        label_mode="int",
        color_mode=color_mode,
        batch_size=cfg.batch_size,
        image_size=(size, size),
        seed=cfg.seed,
        verbose=cfg.verbose > 0,
        cache=cfg.cache,
    )
    if cfg.augment:
        aug = _augmentation(summary.grayscale)
        if aug:
            kwargs["augment"] = aug
    if cfg.validation_split and cfg.validation_split > 0:
        train, val = image_dataset_from_directory(
            cfg.data_dir, validation_split=cfg.validation_split, subset="both", **kwargs
        )
        return train, val
    return image_dataset_from_directory(cfg.data_dir, **kwargs), None


def _callbacks(cfg: TrainConfig, run: Path, resuming: bool, has_val: bool) -> list[Any]:
    from cnnkit import callbacks

    monitor = "val_loss" if has_val else "loss"
    return [
        callbacks.BackupAndRestore(str(run / BACKUP_DIR)),
        callbacks.CSVLogger(str(run / "history.csv"), append=resuming),
        callbacks.EarlyStopping(monitor=monitor, patience=cfg.patience, restore_best_weights=True),
        callbacks.ModelCheckpoint(str(run / BEST_CHECKPOINT), monitor=monitor, save_best_only=True),
    ]


def _dedupe_history(path: Path) -> None:
    """Keeps the last row of each epoch in history.csv: an epoch logged just before a crash, but not yet in the
    backup, is trained again after the resume and logged twice."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return
    last: dict[str, str] = {}
    for row in lines[1:]:
        last[row.split(",", 1)[0]] = row
    rows = sorted(last.values(), key=lambda r: int(r.split(",", 1)[0]) if r.split(",", 1)[0].isdigit() else 0)
    if len(rows) != len(lines) - 1:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def train_from_directory(cfg: TrainConfig, progress: Callable[[str], None] | None = print) -> TrainResult:
    """Trains a classifier on ``cfg.data_dir`` and writes the run folder ``cfg.out``.

    The run folder gets ``model.cnnkit``, ``history.csv``, ``metrics.json``, ``class_names.json`` and
    ``report.html``. Training keeps a backup after every epoch (BackupAndRestore): running again on the same folder
    after an interruption continues where it stopped.

    Example:
        >>> result = train_from_directory(TrainConfig("data/flowers", "runs/flowers", epochs=5))
        >>> result.metrics["val_accuracy"]
    """
    from cnnkit import optimizers, utils
    from cnnkit.interpret import collect_predictions, confusion_matrix, per_class_metrics
    from cnnkit.report import write_report
    from cnnkit.report.run import MODEL_FILE, write_json

    say = progress or (lambda msg: None)
    summary = inspect_directory(cfg.data_dir)
    name, size = choose_defaults(summary, cfg.model, cfg.image_size)
    color_mode = "grayscale" if summary.grayscale and name == TUTORIAL else "rgb"
    channels = 1 if color_mode == "grayscale" else 3
    run = Path(cfg.out)
    resuming = (run / BACKUP_DIR).is_dir() and any((run / BACKUP_DIR).iterdir())
    run.mkdir(parents=True, exist_ok=True)
    if not resuming:
        for stale in ("history.csv", BEST_CHECKPOINT):
            (run / stale).unlink(missing_ok=True)
    say(
        f"Data: {summary.num_images} images in {summary.num_classes} classes ({', '.join(summary.class_names[:10])}"
        f"{', ...' if summary.num_classes > 10 else ''}), typically {summary.image_size[0]}x{summary.image_size[1]}"
        f"{' grayscale' if summary.grayscale else ''}."
    )
    say(f"Model: {name} at {size}x{size}x{channels}, {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}.")
    if resuming:
        say(f"Resuming the interrupted run in {run} from its last backup.")

    if hasattr(utils, "set_random_seed"):
        utils.set_random_seed(cfg.seed)
    train, val = _datasets(cfg, summary, size, color_mode)
    class_names = list(train.class_names)
    model = build_classifier(name, (size, size, channels), len(class_names), cfg.pretrained, cfg.augment)
    model.compile(
        optimizer=optimizers.Adam(learning_rate=cfg.lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    started = time.perf_counter()
    history = model.fit(
        train,
        validation_data=val,
        epochs=cfg.epochs,
        callbacks=_callbacks(cfg, run, resuming, val is not None) + list(cfg.callbacks),
        verbose=cfg.verbose,
    )
    seconds = time.perf_counter() - started
    _dedupe_history(run / "history.csv")
    best = run / BEST_CHECKPOINT
    if best.is_file():  # the epoch with the best validation loss, whether or not early stopping fired
        model.load_weights(str(best))

    model.save(str(run / MODEL_FILE))
    write_json(run / "class_names.json", class_names)
    metrics: dict[str, Any] = {"model_name": name, "train_seconds": round(seconds, 2)}
    from cnnkit.report.run import read_history

    logged = read_history(run / "history.csv") if (run / "history.csv").is_file() else {}
    epochs_run = len(next(iter(logged.values()), [])) or len(next(iter(getattr(history, "history", {}).values()), []))
    metrics["epochs"] = epochs_run or None
    data_info = {
        "directory": os.path.abspath(cfg.data_dir),
        "image_size": [size, size],
        "color_mode": color_mode,
        "validation_split": cfg.validation_split if val is not None else None,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "num_train": int(getattr(train, "num_samples", 0) or 0),
        "num_validation": int(getattr(val, "num_samples", 0) or 0) if val is not None else 0,
    }
    metrics["data"] = data_info
    if val is not None:
        say("Evaluating on the validation set ...")
        preds = collect_predictions(model, val)
        cm = confusion_matrix(preds.y_true, preds.y_pred, len(class_names))
        per_class = per_class_metrics(cm)
        metrics.update(
            val_accuracy=round(preds.accuracy, 6),
            val_loss=round(float(np.mean(preds.losses)), 6),
            confusion_matrix=cm.tolist(),
            per_class={
                c: {k: round(float(per_class[k][i]), 6) for k in ("precision", "recall", "f1")}
                | {"support": int(per_class["support"][i])}
                for i, c in enumerate(class_names)
            },
        )
    write_json(run / "metrics.json", metrics)
    say("Writing the report ...")
    report = write_report(run, model=model, dataset=val, progress=lambda m: say(f"  {m} ..."))
    shutil.rmtree(run / BACKUP_DIR, ignore_errors=True)  # the run is complete: a re-run starts afresh
    best.unlink(missing_ok=True)  # its weights are model.cnnkit's
    files = {
        k: run / v
        for k, v in {
            "model": MODEL_FILE,
            "history": "history.csv",
            "metrics": "metrics.json",
            "class_names": "class_names.json",
            "report": "report.html",
        }.items()
    }
    return TrainResult(run, run / MODEL_FILE, report, metrics, class_names, resumed=resuming, files=files)
