"""`cnnkit lr-find DATA_DIR`: the learning-rate range test on a folder, with the model `cnnkit train` would build."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from cnnkit import utils
from cnnkit.callbacks import LRFinderResult
from cnnkit.pipeline.inspect import inspect_directory
from cnnkit.pipeline.lr_curve import LR_FIND_PNG, find_learning_rate
from cnnkit.pipeline.models import TUTORIAL, build_classifier, choose_defaults
from cnnkit.pipeline.recipe import RECIPE_MODELS, recipe_for
from cnnkit.pipeline.train import TrainConfig, _datasets

__all__ = ["lr_find_from_directory"]


def lr_find_from_directory(
    cfg: TrainConfig,
    num_iter: int = 100,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    progress: Callable[[str], None] | None = print,
) -> tuple[LRFinderResult, Path]:
    """Builds the data and model ``cnnkit train`` would for ``cfg``, runs the range test and draws the curve.

    Returns the result and the path of ``lr_find.png`` in ``cfg.out``.

    Example:
        >>> result, png = lr_find_from_directory(TrainConfig("data/flowers", "runs/flowers"))  # doctest: +SKIP
    """
    say = progress or (lambda msg: None)
    summary = inspect_directory(cfg.data_dir)
    name, size = choose_defaults(summary, cfg.model, cfg.image_size)
    color_mode = "grayscale" if summary.grayscale and name in (TUTORIAL, *RECIPE_MODELS) else "rgb"
    recipe = recipe_for(name, precision=cfg.precision)
    cfg = dataclasses.replace(cfg, batch_size=cfg.batch_size or recipe.batch_size)
    channels = 1 if color_mode == "grayscale" else 3
    say(f"Model: {name} at {size}x{size}x{channels}, batch {cfg.batch_size}.")
    utils.set_random_seed(cfg.seed)
    train, _ = _datasets(cfg, summary, size, color_mode, recipe.label_mode)
    model = build_classifier(name, (size, size, channels), len(train.class_names), cfg.pretrained, cfg.augment)
    # The optimizer and loss training will use, at a plain rate the sweep drives (the schedule comes after).
    model.compile(**recipe.compile_args(None, 1, plain_rate=True))
    result = find_learning_rate(model, train, cfg.out, num_iter, start_lr, end_lr, progress=say)
    return result, Path(cfg.out) / LR_FIND_PNG
