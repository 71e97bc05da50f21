"""`cnnkit train DATA_DIR --budget 5m`: the best model the given minutes can train, planned from measured speed.

The plan is made from measurements on this machine, now: a sample of the images is decoded (the data set is decoded
once and cached, so decoding costs ``images x seconds per image``), and each candidate model takes a few training
steps (augmentation included) and one prediction batch on data of the training shape, at the batch size it will train
with. The whole schedule must fit: decoding, the range test when ``--lr auto``, every epoch with its validation pass
and checkpoints, the final evaluation (twice with flip test-time augmentation) and the report (timed from one small
plot). The candidates form a ladder, from the fastest (the tutorial CNN, then the same with BatchNorm and the
one-cycle recipe) to the strongest (ResNetS, ResNetM): the cheapest recipe model is measured first, and the next is
measured only while the last one gets so many epochs that the next, a few times slower, would still get its minimum.
The one-cycle schedule is laid over the epochs the winner gets, so the rate has annealed when time is up.

Measurements on a busy machine can be wrong, so the plan is checked as it runs: after every epoch, the epochs still
planned are compared with the time left (at the speed the epochs really took), and when they no longer fit, the
schedule is shortened to the epochs that do, so the rate still anneals to its end. Within an epoch, training stops
at the batch after which the final evaluation and the report would no longer fit.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnkit import callbacks, utils
from cnnkit.data.augment import run_augmentations
from cnnkit.data.decode import load_array
from cnnkit.data.loader import default_workers
from cnnkit.optimizers.schedules import OneCycle
from cnnkit.pipeline.inspect import DataSummary, _images_in, inspect_directory
from cnnkit.pipeline.models import build_classifier
from cnnkit.pipeline.recipe import recipe_for
from cnnkit.pipeline.run_folder import METRICS_FILE, write_json
from cnnkit.pipeline.train import TrainConfig, TrainResult, _augmentation, _callbacks, train_from_directory

__all__ = ["BudgetPlan", "Deadline", "parse_budget", "plan_budget", "process_elapsed", "train_with_budget"]

# The ladder, fastest first: each model with the fewest epochs worth training it for, and how many times slower than
# the rung below it a training step is (so the next rung is measured only when it could get its minimum).
# Measured with `cnnkit train --budget` on 60,000 Fashion-MNIST images (2-core Xeon with AMX, mixed_bfloat16, tested
# on the 10,000 test images): in 2.5 minutes tutorial_bn trains 10.3 epochs (12 s each) to 91.90%, ResNetXS 8 epochs
# (16 s) to 90.90%, ResNetS 4.4 epochs (28 s) to 91.98%; in 5 minutes ResNetS 9.2 epochs to 93.19%. On an AVX2 EPYC
# in float32 ResNetXS was behind tutorial_bn as well (89.8% after 2 epochs of 54 s against 90.6% after 3 of 38 s).
# So ResNetXS is not a rung; ResNetS takes over from about 3.5 epochs, at 2.8x tutorial_bn's step time (2.77x in
# bf16, 2.87x in float32); ResNetM (1.8-2.3x ResNetS) only with many epochs. tutorial_bn anneals its one-cycle
# schedule within a part of an epoch, and the Adam-trained tutorial CNN takes over only when not even a quarter epoch
# fits.
CANDIDATES = (
    ("tutorial", 1, 1.0),
    ("tutorial_bn", 0.25, 1.0),
    ("ResNetS", 3.5, 2.8),
    ("ResNetM", 10, 2.0),
)
# After training: the model file and report.html (plots, Grad-CAM), as this machine draws plots: measured 2-3 s on a
# 2-core Xeon (one plot 0.12 s), 3-8 s on a slower 2-core EPYC.
REPORT_BASE_SECONDS, REPORT_PLOTS = 1.5, 20
GROWTH = 1.5  # how far the re-plan may lengthen the schedule when epochs run faster than measured
RECENT = 3  # the deadline follows the median pace of this many last epochs
REPLAN_MARGIN = 0.02  # the deadline moves the schedule when more or fewer batches than this share fit


def parse_budget(text: str | float | int) -> float:
    """Seconds from ``"5m"``, ``"2.5m"``, ``"90s"``, ``"1h"``, ``"1m30s"`` or a number of seconds.

    Example:
        >>> parse_budget("2.5m"), parse_budget("1m30s"), parse_budget(45)
        (150.0, 90.0, 45.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s?)?", s)
        if not s or parts is None or not any(parts.groups()):
            raise ValueError(
                f"Cannot read the time budget. Expected a duration such as 5m, 2.5m, 90s or 1h. Received: "
                f"--budget {text}. Write minutes with m and seconds with s."
            )
        h, m, sec = (float(g) if g else 0.0 for g in parts.groups())
        seconds = h * 3600 + m * 60 + sec
    if not seconds > 0:
        raise ValueError(
            f"The time budget must be positive. Expected e.g. 5m. Received: --budget {text}. Give a longer budget."
        )
    return seconds


def process_elapsed() -> float:
    """Seconds since this process started (Linux ``/proc``; 0 elsewhere): the CLI's start-up counts against a budget.

    Example:
        >>> process_elapsed() >= 0
        True
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = float(f.read().rsplit(")", 1)[1].split()[19])  # field 22, after the command name
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    return f"{m} min {s} s" if s else f"{m} min"


@dataclass
class BudgetPlan:
    """What the budget buys: the model, image size and epochs, and the time each part is expected to take."""

    model: str
    image_size: int
    epochs: int
    budget_s: float
    expected_s: float
    train_image_s: float  # seconds per training image (model step and augmentation)
    predict_image_s: float  # seconds per predicted image
    final_s: float  # the final evaluation and the report
    steps: int = 0  # training batches in all (the last epoch may end early); 0: whole epochs
    steps_per_epoch: int = 0

    def describe(self) -> str:
        """``"ResNet-S at 28 px, 7 epochs, about 4 min 40 s"`` (``"2.7 epochs"`` when the last one ends early)."""
        label = re.sub(r"^ResNet([SM])$", r"ResNet-\1", self.model)
        label = {"tutorial": "the tutorial CNN", "tutorial_bn": "the tutorial CNN with BatchNorm"}.get(label, label)
        epochs = f"{self.epochs}"
        if self.steps and self.steps_per_epoch and self.steps < self.epochs * self.steps_per_epoch:
            epochs = f"{self.steps / self.steps_per_epoch:.1f}"
        text = f"{label} at {self.image_size} px, {epochs} epoch{'s' if epochs != '1' else ''}, about " + _duration(
            self.expected_s
        )
        if self.expected_s > self.budget_s * 1.02:
            text += f" (more than the {_duration(self.budget_s)} budget: training stops at the deadline)"
        return text


class Deadline(callbacks.Callback):
    """Keeps training inside its time: stops at the batch past which what must follow would not fit, stops after
    ``steps`` batches when given, and after each epoch fits a step-based schedule (``OneCycle``) to the batches that
    fit at the measured speed.

    Epoch times include the validation pass and the checkpoints. The pace is the slower of the run's average so far
    and the median of the last ``RECENT`` epochs: one slow epoch (another process's burst, a pause) does not shrink the
    rest of the run, a lasting slowdown is followed from its second epoch, and the batch-level check stops training at
    the deadline whatever the pace said. When fewer batches fit than planned, the schedule's ``total_steps`` is cut to
    them, so the rate anneals fully before the deadline instead of being cut off while still high. When more fit (the
    plan's measurement was pessimistic) and ``max_steps`` allows, the schedule is lengthened to them, so the budget is
    not left unused.

    Example:
        >>> model.fit(ds, epochs=10, callbacks=[Deadline(time.perf_counter() + 60, steps=4000)])  # doctest: +SKIP
    """

    def __init__(
        self,
        deadline: float,
        clock: Callable[[], float] = time.perf_counter,
        steps: int | None = None,
        max_steps: int | None = None,
    ):
        super().__init__()
        self.deadline, self.clock = deadline, clock
        self.steps, self.max_steps = steps, max_steps
        self._shortened = False
        self.done = 0  # batches trained
        self.stopped_early = False
        self.replanned: list[tuple[int, int]] = []  # (after batch, batches now planned)
        self.epoch_seconds: list[float] = []  # each epoch's time, its validation pass and checkpoints included
        self.ended: float | None = None  # the clock when fit() ended
        self._last: float | None = None
        self._epoch_start: float | None = None
        self._epoch_first = 0  # self.done when the epoch began
        self._epoch_batches: list[int] = []  # the batches of each epoch in epoch_seconds

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.done += 1
        now = self.clock()
        step = 0.0 if self._last is None else now - self._last
        self._last = now
        if now + step > self.deadline:  # another batch would end past the deadline
            self.stopped_early = True
            self.model.stop_training = True
        elif self.steps is not None and self.done >= self.steps:  # the plan's last batch: the schedule has annealed
            self.stopped_early = self.stopped_early or self._shortened
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._last = None  # the validation pass between epochs is not a batch
        if self._epoch_start is None:
            self._epoch_start = self.clock()
        self._epoch_first = self.done

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = self.clock()
        batches = self.done - self._epoch_first
        took = now - (self._epoch_start if self._epoch_start is not None else now)
        self._epoch_start = now  # the next epoch's time includes this epoch's checkpoints, written after it
        if batches <= 0 or took <= 0:
            return
        self.epoch_seconds.append(took)
        self._epoch_batches.append(batches)
        if self.steps is None or self.model.stop_training:
            return
        fit = self.done + int((self.deadline - now) // self.pace())
        # Only a real change (over REPLAN_MARGIN and a batch) moves the schedule: each move bends the rate's curve a
        # little. A shortfall within it ends at the deadline with the rate all but annealed.
        if fit < self.steps * (1 - REPLAN_MARGIN) - 1:
            self._shortened = True
            self._replan(max(self.done, fit))
            if self.done >= self.steps:
                self.stopped_early = True
                self.model.stop_training = True
        elif self.max_steps is not None and fit > self.steps * (1 + REPLAN_MARGIN) + 1 and self.steps < self.max_steps:
            self._replan(min(fit, self.max_steps))

    def on_train_end(self, logs: dict | None = None) -> None:
        self.ended = self.clock()

    def pace(self) -> float:
        """Seconds a batch to plan the rest with: the slower of the average over the epochs so far and the median of
        the last ``RECENT`` (0 before the first epoch ends)."""
        if not self._epoch_batches:
            return 0.0
        recent = zip(self.epoch_seconds[-RECENT:], self._epoch_batches[-RECENT:])
        average = sum(self.epoch_seconds) / sum(self._epoch_batches)
        return max(average, statistics.median(took / batches for took, batches in recent))

    def _replan(self, steps: int) -> None:
        self.steps = steps
        self.replanned.append((self.done, steps))
        schedule = getattr(getattr(self.model, "optimizer", None), "_learning_rate", None)
        if isinstance(schedule, OneCycle):
            schedule.total_steps = max(1, steps)


def _measure(
    name: str, shape: tuple[int, int, int], classes: int, batch_size: int, precision: str = "auto"
) -> tuple[float, float, float]:
    """Seconds per image for a training step (with the training augmentation) and for prediction, measured on random
    data of the training shape, and the seconds the run's per-epoch callbacks (backup, best checkpoint, history,
    early-stopping weights) take after an epoch of this model."""
    recipe = recipe_for(name, precision=precision)
    model = build_classifier(name, shape, classes)
    model.compile(**recipe.compile_args(None, 1000))
    augment = _augmentation(shape[-1] == 1)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(0, 255, (batch_size, *shape)).astype("float32"))
    labels = np.arange(batch_size) % classes
    y = np.eye(classes, dtype="float32")[labels] if recipe.label_mode == "categorical" else labels

    def step() -> None:  # the augmentation as the pipeline runs it: the flip folded into the shift's resample
        model.train_on_batch(run_augmentations(augment, x), y)

    step()  # the first steps build kernels and caches: not timed
    step()
    took: list[float] = []
    start = time.perf_counter()
    while len(took) < 3 or (len(took) < 20 and time.perf_counter() - start < 1.5):
        began = time.perf_counter()
        step()
        took.append(time.perf_counter() - began)
    # The median step: the last kernels built late, or another process's burst, do not set the speed of the run.
    train_s = statistics.median(took) / batch_size
    xp = torch.cat([x] * max(1, 256 // batch_size))
    model.predict(xp[:batch_size], batch_size=len(xp), verbose=0)
    start = time.perf_counter()
    model.predict(xp, batch_size=len(xp), verbose=0)
    predict_s = (time.perf_counter() - start) / len(xp)
    return train_s, predict_s, _epoch_end_seconds(model)


def _epoch_end_seconds(model: Any) -> float:
    """What the run's callbacks take after an epoch of ``model`` (every one saving: the worst case), timed on two
    epochs in a scratch folder; the slower counts."""
    with tempfile.TemporaryDirectory(prefix="cnnkit-budget-") as scratch:
        hooks = callbacks.CallbackList(_callbacks(TrainConfig(scratch, scratch), Path(scratch), False, True))
        hooks.set_model(model)
        hooks.on_train_begin({})
        took = []
        for epoch, loss in enumerate((1.0, 0.9)):  # improving: the best checkpoint is written both times
            hooks.on_epoch_begin(epoch, {})
            start = time.perf_counter()
            hooks.on_epoch_end(epoch, {"loss": loss, "val_loss": loss})
            took.append(time.perf_counter() - start)
        return max(took)


def _report_seconds() -> float:
    """What writing the model and the report will take here: ``REPORT_BASE_SECONDS`` and ``REPORT_PLOTS`` times one
    small plot, timed now (after one untimed plot: the first loads matplotlib's fonts, which the report needs too)."""
    from cnnkit.report import plots

    history = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5], "accuracy": [0.6, 0.8, 0.9]}
    plots.training_curves_png(history)
    start = time.perf_counter()
    plots.training_curves_png(history)
    return REPORT_BASE_SECONDS + REPORT_PLOTS * (time.perf_counter() - start)


def _decode_seconds(summary: DataSummary, size: int, color_mode: str, sample: int = 48) -> float:
    files = _images_in(summary.directory)
    pick = files[:: max(1, len(files) // sample)][:sample]
    start = time.perf_counter()
    for f in pick:
        load_array(str(f), color_mode=color_mode, image_size=(size, size))
    per_image = (time.perf_counter() - start) / max(1, len(pick))
    # The folder is decoded in one process per core (data.loader); 1.2 for the start-up and the uneven chunks.
    return per_image * summary.num_images / default_workers() * 1.2


def plan_budget(
    cfg: TrainConfig,
    budget_s: float,
    summary: DataSummary | None = None,
    started: float | None = None,
    measure: Callable[[str, tuple[int, int, int], int, int, str], tuple[float, float, float]] = _measure,
) -> BudgetPlan:
    """Chooses the model, image size and epochs so the whole run ends within ``budget_s`` of ``started``.

    Example:
        >>> plan = plan_budget(TrainConfig("data/fashion", "runs/fashion"), 300)  # doctest: +SKIP
        >>> plan.describe()  # doctest: +SKIP
        'ResNet-S at 28 px, 7 epochs, about 4 min 40 s'
    """
    started = time.perf_counter() if started is None else started
    summary = summary or inspect_directory(cfg.data_dir)
    typical = max(summary.image_size)
    size = cfg.image_size or max(16, min(typical, 64))
    channels = 1 if summary.grayscale else 3
    n_val = int(summary.num_images * cfg.validation_split) if cfg.validation_split else 0
    n_train = summary.num_images - n_val
    shown = n_val or summary.num_images  # the report predicts the whole folder when nothing is held out

    def steps_per_epoch(batch: int) -> int:
        return max(1, math.ceil(n_train / batch))

    decode = _decode_seconds(summary, size, "grayscale" if channels == 1 else "rgb")
    report = _report_seconds()

    def plan_for(name: str) -> tuple[BudgetPlan, float]:
        batch = cfg.batch_size or recipe_for(name, precision=cfg.precision).batch_size
        train_s, predict_s, epoch_end_s = measure(
            name, (size, size, channels), summary.num_classes, batch, cfg.precision
        )
        final = shown * predict_s * (2 if cfg.tta else 1) + report
        lr_find = 100 * batch * train_s if cfg.lr == "auto" else 0.0
        per_epoch = n_train * train_s + n_val * predict_s + epoch_end_s
        per_batch = per_epoch / steps_per_epoch(batch)  # validation and checkpoints spread over the batches
        elapsed = time.perf_counter() - started
        left = budget_s - elapsed - decode - final - lr_find
        # Whole batches rather than whole epochs: the last epoch may end early, with the schedule annealed there.
        steps = max(1, math.floor(left / per_batch)) if left > 0 else steps_per_epoch(batch)
        epochs = math.ceil(steps / steps_per_epoch(batch))
        expected = elapsed + decode + lr_find + steps * per_batch + final
        plan = BudgetPlan(
            name, size, epochs, budget_s, expected, train_s, predict_s, final, steps, steps_per_epoch(batch)
        )
        return plan, left / per_epoch

    if cfg.model:
        return plan_for(cfg.model)[0]
    # Measuring costs budget too, so the ladder is climbed from tutorial_bn: the tutorial CNN only when it cannot
    # get its epochs, a stronger rung only when the one below gets enough epochs that the stronger (slower by the
    # rung's factor) would still get its minimum.
    rungs = [(name, minimum, slower) for name, minimum, slower in CANDIDATES if name != "tutorial"]
    plan, fits = plan_for(rungs[0][0])
    if fits < rungs[0][1]:
        return plan_for("tutorial")[0]
    for name, minimum, slower in rungs[1:]:
        if fits < minimum * slower:
            break
        bigger, bigger_fits = plan_for(name)
        if bigger_fits < minimum:
            break
        plan, fits = bigger, bigger_fits
    return plan


def train_with_budget(
    cfg: TrainConfig,
    budget: str | float,
    progress: Callable[[str], None] | None = print,
    already_spent: float = 0.0,
) -> tuple[TrainResult, BudgetPlan]:
    """Plans for the budget, says the plan, and trains so the whole run (report included) ends within it.

    ``already_spent`` seconds count against the budget (the CLI passes its start-up time).

    Example:
        >>> result, plan = train_with_budget(TrainConfig("data/fashion", "runs/fashion"), "5m")  # doctest: +SKIP
    """
    started = time.perf_counter() - already_spent
    budget_s = parse_budget(budget)
    say = progress or (lambda msg: None)
    say(f"Planning for a budget of {_duration(budget_s)}: measuring this machine ...")
    utils.set_random_seed(cfg.seed)
    plan = plan_budget(cfg, budget_s, started=started)
    say(f"Plan: {plan.describe()}.")
    # Stop early if the estimates were optimistic: leave the final evaluation and the report their time. When they
    # were pessimistic the schedule may grow by up to GROWTH, so fit() is given the epochs for that.
    epochs, max_steps = plan.epochs, None
    if plan.steps and plan.steps_per_epoch:
        max_steps = int(plan.steps * GROWTH)
        epochs = math.ceil(max_steps / plan.steps_per_epoch)
    guard = Deadline(started + budget_s - plan.final_s, steps=plan.steps or None, max_steps=max_steps)
    run_cfg = replace(
        cfg,
        model=plan.model,
        image_size=plan.image_size,
        epochs=epochs,
        steps=plan.steps or None,
        patience=epochs + 1,  # one-cycle anneals to the last epoch: no early stop
        callbacks=[*cfg.callbacks, guard],
    )
    result = train_from_directory(run_cfg, progress)
    wall = time.perf_counter() - started
    result.metrics["budget"] = {
        "budget_s": budget_s,
        "plan": plan.describe(),
        "expected_s": round(plan.expected_s, 1),
        "wall_s": round(wall, 1),
        # what followed training (final evaluation, model file, report): the plan allowed final_s for it
        "after_training_s": round(wall - (guard.ended - started), 1) if guard.ended is not None else None,
        "final_s_planned": round(plan.final_s, 1),
        "stopped_by_deadline": guard.stopped_early,
        "batches": guard.done,
        "replanned": [{"after_batch": done, "batches": steps} for done, steps in guard.replanned],
        "epoch_seconds": [round(s, 2) for s in guard.epoch_seconds],
    }
    write_json(result.run_dir / METRICS_FILE, result.metrics)
    return result, plan
