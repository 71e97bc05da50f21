"""From a folder of images to a trained classifier in a run folder (what `cnnkit train` calls)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit import callbacks, distribution, layers, utils
from cnnkit.common.download import cache_dir
from cnnkit.common.progbar import resolve_verbose
from cnnkit.interpret import collect_predictions
from cnnkit.pipeline.evaluate import evaluation_of
from cnnkit.pipeline.inspect import DataSummary, inspect_directory, unsupported_message
from cnnkit.pipeline.lr_curve import auto_learning_rate
from cnnkit.pipeline.models import TUTORIAL, build_classifier, choose_defaults
from cnnkit.pipeline.recipe import RECIPE_MODELS, recipe_for
from cnnkit.pipeline.report import write_run_report
from cnnkit.pipeline.run_folder import (
    BACKUP_DIR,
    BEST_CHECKPOINT,
    CLASS_NAMES_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RunFolder,
    lock_run_folder,
    write_json,
)
from cnnkit.pipeline.tta import with_tta

logger = logging.getLogger("cnnkit.pipeline")


FIT_DONE = "fit_done.json"


def _read_fit_done(run_dir: Path) -> int | None:
    try:
        epochs = json.loads((run_dir / BACKUP_DIR / FIT_DONE).read_text(encoding="utf-8")).get("epochs")
    except (OSError, ValueError, AttributeError):
        return None
    return epochs if isinstance(epochs, int) and epochs > 0 else None


def _hook(moment: str) -> None:
    """Test seam: with CNNKIT_TEST_PAUSE_AT=<moment>, write <out>.<moment> marker and wait to be killed there."""
    if os.environ.get("CNNKIT_TEST_PAUSE_AT") == moment:
        marker = os.environ.get("CNNKIT_TEST_MARKER")
        if marker:
            with open(marker, "w", encoding="utf-8") as f:
                f.write(moment)
        time.sleep(float(os.environ.get("CNNKIT_TEST_PAUSE_SECONDS", "60")))


__all__ = ["TrainConfig", "TrainResult", "train_from_directory"]


@dataclass
class TrainConfig:
    """Everything `cnnkit train` can set; ``None`` means "choose from the data"."""

    data_dir: str
    out: str
    model: str | None = None
    pretrained: bool = False
    epochs: int = 10
    batch_size: int | None = None  # None: the recipe's (128 for the fast ResNets, 32 otherwise)
    image_size: int | None = None
    validation_split: float = 0.2
    augment: bool = True
    # None: the recipe's (Adam 1e-3; one-cycle peak 0.2 for ResNetXS/S/M); "auto": the range test's pick (lr_find.png)
    lr: float | str | None = None
    seed: int = 1337
    patience: int = 3
    cache: bool | str = True
    verbose: int | str = "auto"  # Keras' rule: a redrawn bar on a terminal, one line per epoch in a pipe or log
    tta: bool = False  # flip test-time augmentation in the final evaluation and the report
    # "auto": mixed_bfloat16 for the fast ResNets where it measures faster (native bf16 CPUs), else float32
    precision: str = "auto"
    steps: int | None = None  # the schedule's length in batches (a --budget plan may end inside an epoch)
    callbacks: list = field(default_factory=list)  # extra Keras-style callbacks, run after the built-in ones


@dataclass
class TrainResult:
    """What a training run produced: the run folder, its files, the metrics and class names."""

    run_dir: Path
    model_path: Path
    report_path: Path | None
    metrics: dict[str, Any]
    class_names: list[str]
    resumed: bool = False
    files: dict[str, Path] = field(default_factory=dict)


def _augmentation(grayscale: bool) -> list[Any]:
    """Light augmentation applied to training batches only: mirror images and small shifts (as fastai's defaults).

    The mirror is what flip test-time augmentation averages over, so training sees it too (``grayscale`` is kept
    for callers; fastai flips every kind of image as well)."""
    aug: list[Any] = [layers.RandomFlip("horizontal")]
    aug.append(layers.RandomTranslation(0.1, 0.1, fill_mode="constant"))
    return aug


def _datasets(
    cfg: TrainConfig, summary: DataSummary, size: int, color_mode: str, label_mode: str = "int"
) -> tuple[Any, Any]:
    kwargs: dict[str, Any] = dict(
        label_mode=label_mode,
        color_mode=color_mode,
        batch_size=cfg.batch_size,
        image_size=(size, size),
        seed=cfg.seed,
        verbose=cfg.verbose != 0,
        cache=cfg.cache,
    )
    if summary.unsupported:  # leave out the class folders with no readable image, as the warning said
        kwargs["class_names"] = summary.class_names
    if cfg.augment:
        kwargs["augment"] = _augmentation(summary.grayscale)
    if cfg.validation_split and cfg.validation_split > 0:
        train, val = utils.image_dataset_from_directory(
            cfg.data_dir, validation_split=cfg.validation_split, subset="both", **kwargs
        )
        return train, val
    return utils.image_dataset_from_directory(cfg.data_dir, **kwargs), None


def _callbacks(cfg: TrainConfig, run: Path, resuming: bool, has_val: bool) -> list[Any]:
    monitor = "val_loss" if has_val else "loss"
    return [
        # Kept after fit() returns (delete_checkpoint=False) until the model, metrics and report are written: a kill in
        # between resumes from the last epoch instead of training again. train_from_directory removes it at the end.
        callbacks.BackupAndRestore(str(run / BACKUP_DIR), delete_checkpoint=False),
        # On a resume CSVLogger cuts history.csv back to the backup's epochs itself (see CSVLogger).
        callbacks.CSVLogger(str(run / HISTORY_FILE), append=resuming),
        callbacks.EarlyStopping(monitor=monitor, patience=cfg.patience, restore_best_weights=True),
        callbacks.ModelCheckpoint(str(run / BEST_CHECKPOINT), monitor=monitor, save_best_only=True),
    ]


def train_from_directory(cfg: TrainConfig, progress: Callable[[str], None] | None = print) -> TrainResult:
    """Trains a classifier on ``cfg.data_dir`` and writes the run folder ``cfg.out``.

    The run folder gets ``model.cnnkit``, ``history.csv``, ``metrics.json``, ``class_names.json`` and
    ``report.html``. Training keeps a backup after every epoch (BackupAndRestore): running again on the same folder
    after an interruption continues where it stopped. The validation set is predicted once, after training; the
    metrics and the report both come from those predictions.

    Under torchrun (``cnnkit train --nproc N``) every process trains its share of each batch (DDP); rank 0 decodes
    the image cache first (``$CNNKIT_HOME/images``; the others then map the same file), writes the run folder and
    the report; the others stop after training.
    """
    distribution.initialize()  # joins torchrun's process group when launched by it; nothing in one process
    chief = distribution.is_chief()
    if distribution.get_world_size() > 1 and cfg.cache is True:
        # One decode for all ranks: a memory-mapped disk cache that rank 0 writes and the others map.
        cfg = dataclasses.replace(cfg, cache=str(cache_dir("images")))
    if not chief:  # rank 0 owns the run folder and its lock; the others train their shares and stop
        return _train_locked(dataclasses.replace(cfg, verbose=0), lambda msg: None, chief=False)
    with lock_run_folder(cfg.out):  # one run per folder: a second run into it says who holds it
        return _train_locked(cfg, progress or (lambda msg: None), chief=True)


def _train_locked(cfg: TrainConfig, say: Callable[[str], None], chief: bool) -> TrainResult:
    summary = inspect_directory(cfg.data_dir)
    warning = unsupported_message(summary)
    if warning:
        logger.warning(warning)
    name, size = choose_defaults(summary, cfg.model, cfg.image_size)
    color_mode = "grayscale" if summary.grayscale and name in (TUTORIAL, *RECIPE_MODELS) else "rgb"
    recipe = recipe_for(name, precision=cfg.precision)
    cfg = dataclasses.replace(cfg, batch_size=cfg.batch_size or recipe.batch_size)
    channels = 1 if color_mode == "grayscale" else 3
    run = RunFolder(Path(cfg.out))
    resuming = (run.path / BACKUP_DIR).is_dir() and any((run.path / BACKUP_DIR).iterdir())
    run.path.mkdir(parents=True, exist_ok=True)
    if not resuming and chief:
        for stale in (HISTORY_FILE, BEST_CHECKPOINT):
            (run.path / stale).unlink(missing_ok=True)
    say(
        f"Data: {summary.num_images} images in {summary.num_classes} classes ({', '.join(summary.class_names[:10])}"
        f"{', ...' if summary.num_classes > 10 else ''}), typically {summary.image_size[0]}x{summary.image_size[1]}"
        f"{' grayscale' if summary.grayscale else ''}."
    )
    say(
        f"Model: {name} at {size}x{size}x{channels}, "
        f"{f'{cfg.steps} batches' if cfg.steps else f'{cfg.epochs} epochs'}, batch {cfg.batch_size}, "
        f"lr {cfg.lr or recipe.default_lr}"
        f"{', one-cycle SGD, label smoothing 0.1' if recipe.one_cycle else ''}"
        f"{', mixed_bfloat16' if recipe.dtype_policy else ''}."
    )
    if resuming:
        say(f"Resuming the interrupted run in {run.path} from its last backup.")
    # A bar redrawn with \r only on a terminal: piped logs get one line per epoch (Keras' verbose="auto").
    verbose = resolve_verbose(cfg.verbose, sys.stdout) if cfg.verbose == "auto" else cfg.verbose

    utils.set_random_seed(cfg.seed)
    if not chief:
        distribution.barrier()  # rank 0 decodes the image cache; the others then reuse its files
    train, val = _datasets(cfg, summary, size, color_mode, recipe.label_mode)
    if chief:
        distribution.barrier()
    run.class_names = list(train.class_names)
    model = build_classifier(name, (size, size, channels), len(run.class_names), cfg.pretrained, cfg.augment)
    total_steps, auto_lr = cfg.steps or cfg.epochs * len(train), cfg.lr == "auto"
    model.compile(**recipe.compile_args(None if auto_lr else cfg.lr, total_steps, plain_rate=auto_lr))
    lr_find = auto_learning_rate(model, train, run.path, resuming, say) if auto_lr else None
    if lr_find is not None:  # compile again: a fresh optimizer (the schedule's peak) at the suggested rate
        model.compile(**recipe.compile_args(lr_find["suggestion"], total_steps))
    # FIT_DONE in the backup folder: fit() had returned when the run was stopped, so the re-run restores the last
    # backup and trains no further epoch (early stopping may have ended it before cfg.epochs).
    done = _read_fit_done(run.path) if resuming else None
    started = time.perf_counter()
    history = model.fit(
        train,
        validation_data=val,
        epochs=done if done is not None else cfg.epochs,
        callbacks=_callbacks(cfg, run.path, resuming, val is not None) + list(cfg.callbacks),
        verbose=verbose,
    )
    write_json(run.path / BACKUP_DIR / FIT_DONE, {"epochs": len(history.history.get("loss", []))})
    _hook("after_fit")
    seconds = time.perf_counter() - started
    best = run.path / BEST_CHECKPOINT
    if best.is_file():  # the epoch with the best validation loss, whether or not early stopping fired
        model.load_weights(str(best))
    distribution.barrier()  # every rank has read the best checkpoint before rank 0 goes on (and deletes it)
    if not chief:
        return TrainResult(run.path, run.path / MODEL_FILE, None, {}, run.class_names, resumed=resuming)
    model.save(str(run.path / MODEL_FILE))
    write_json(run.path / CLASS_NAMES_FILE, run.class_names)

    # History holds every epoch, those before a resume included (BackupAndRestore restores it), as history.csv does.
    run.history = {k: [float(v) for v in values] for k, values in history.history.items()}
    run.metrics = {
        "model_name": name,
        "train_seconds": round(seconds, 2),
        "epochs": len(next(iter(run.history.values()), [])) or None,
        "data": {
            "directory": os.path.abspath(cfg.data_dir),  # to rebuild the validation set; the report shows its name
            "image_size": [size, size],
            "color_mode": color_mode,
            "validation_split": cfg.validation_split if val is not None else None,
            "seed": cfg.seed,
            "batch_size": cfg.batch_size,
            "num_train": int(train.num_samples),
            "num_validation": int(val.num_samples) if val is not None else 0,
        },
    }
    run.metrics["tta"] = cfg.tta
    run.metrics["dtype_policy"] = recipe.dtype_policy or "float32"
    if lr_find is not None:
        run.metrics["lr_find"] = lr_find
    # Without a validation split the report shows the whole folder, unaugmented (rebuilt from metrics["data"]).
    shown = val if val is not None else run.validation_dataset()
    say("Evaluating on the validation set ..." if val is not None else "Predicting the images for the report ...")
    predictions = collect_predictions(with_tta(model, cfg.tta), shown, keep_images=True) if shown is not None else None
    if val is not None:
        evaluation = evaluation_of(predictions, run.class_names)
        run.metrics.update(
            val_accuracy=round(evaluation.accuracy, 6),
            val_loss=round(evaluation.loss, 6),
            confusion_matrix=evaluation.confusion_matrix.tolist(),
            per_class=evaluation.per_class_dict(digits=6),
        )
    write_json(run.path / METRICS_FILE, run.metrics)
    say("Writing the report ...")
    report = write_run_report(run, model=model, predictions=predictions, progress=lambda m: say(f"  {m} ..."))
    shutil.rmtree(run.path / BACKUP_DIR, ignore_errors=True)  # the run is complete: a re-run starts afresh
    best.unlink(missing_ok=True)  # its weights are model.cnnkit's
    return TrainResult(
        run.path, run.model_path, report, run.metrics, run.class_names, resumed=resuming, files=run.files()
    )
