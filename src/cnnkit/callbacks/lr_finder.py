"""LRFinder: Leslie Smith's learning-rate range test, as fastai's ``Learner.lr_find`` runs it.

The rate grows exponentially from ``start_lr`` to ``end_lr`` over ``num_iter`` batches; the loss of each batch is
smoothed with a debiased exponential moving average (fastai's ``AvgSmoothLoss``, beta 0.98) and the sweep stops when
the smoothed loss passes four times the best one seen (divergence) or turns NaN. The weights (buffers included:
BatchNormalization's running statistics), the optimizer's state and learning rate, and the trainer's step counters are
put back exactly as they were when training began, so the test leaves no trace on the model.

Source: fastai ``callback/schedule.py`` (``LRFinder``, ``SchedExp``, ``valley``, ``minimum``, ``steep``) and
``learner.py`` (``AvgSmoothLoss``); L. N. Smith, "Cyclical Learning Rates for Training Neural Networks" (2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnkit.callbacks.callback import Callback

__all__ = ["LRFinder", "LRFinderResult", "suggest_valley"]


def suggest_valley(lrs: list[float], losses: list[float]) -> int:
    """Index of fastai's ``valley`` suggestion: a point about half-way down the longest stretch of falling loss.

    fastai finds the longest decreasing subsequence of the loss curve and picks ``start + int(len/3) + int(len/6)``
    inside it: far enough down the slope to be fast, well before the minimum where the loss turns up.

    Example:
        >>> suggest_valley(list(range(11)), [3, 2.9, 2.7, 2.3, 1.8, 1.4, 1.2, 1.1, 1.3, 2, 5])
        2
    """
    n = len(losses)
    if n == 0:
        return 0
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return min(max(max_start + int(sections) + int(sections / 2), 0), n - 1)


@dataclass
class LRFinderResult:
    """The curve of a range test and the rates it suggests.

    Attributes:
        lrs: the learning rate of each recorded batch.
        losses: the smoothed loss after each batch.
        raw_losses: the loss of each batch as computed.
        diverged: True when the sweep stopped early because the loss diverged.
        suggestion: the suggested learning rate (fastai's ``valley``).
        suggestions: every suggestion by name: ``valley``, ``minimum`` (the rate at the lowest loss, divided by 10)
            and ``steep`` (the rate of the steepest descent).
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    diverged: bool
    suggestion: float
    suggestions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for metrics.json and the report)."""
        return {
            "lrs": self.lrs,
            "losses": self.losses,
            "raw_losses": self.raw_losses,
            "diverged": self.diverged,
            "suggestion": self.suggestion,
            "suggestions": self.suggestions,
        }


class LRFinder(Callback):
    """Runs the learning-rate range test during ``fit`` and restores the model and optimizer afterwards.

    Usually called through ``model.lr_find(...)``, which runs ``fit`` with this callback for as many epochs as
    ``num_iter`` batches need. The result is in ``finder.result`` after training ends.

    Args:
        start_lr: the first learning rate (fastai's default 1e-7).
        end_lr: the last learning rate (fastai's default 10).
        num_iter: batches in the sweep (fastai's default 100).
        stop_div: stop when the smoothed loss passes ``4 x`` the best smoothed loss, or is NaN.
        beta: smoothing of the loss (a debiased exponential moving average).
        restore: put the weights, optimizer state and step counters back when training ends.

    Example:
        >>> finder = LRFinder(start_lr=1e-5, end_lr=1.0, num_iter=50)
        >>> model.fit(x, y, epochs=5, callbacks=[finder], verbose=0)  # doctest: +SKIP
        >>> finder.result.suggestion  # doctest: +SKIP
    """

    def __init__(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_iter: int = 100,
        stop_div: bool = True,
        beta: float = 0.98,
        restore: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("start_lr", start_lr), ("end_lr", end_lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(
                    f"Argument `{name}` must be a positive number. Expected e.g. {name}=1e-7. "
                    f"Received: {name}={value!r}. Pass a learning rate above 0."
                )
        if not end_lr > start_lr:
            raise ValueError(
                "Argument `end_lr` must be greater than `start_lr`. Expected an increasing sweep. "
                f"Received: start_lr={start_lr!r}, end_lr={end_lr!r}. Swap them or widen the range."
            )
        if isinstance(num_iter, bool) or not isinstance(num_iter, int) or num_iter < 2:
            raise ValueError(
                "Argument `num_iter` must be an integer of at least 2. Expected e.g. num_iter=100. "
                f"Received: num_iter={num_iter!r}. Pass more batches."
            )
        if not 0.0 <= beta < 1.0:
            raise ValueError(
                f"Argument `beta` is out of range. Expected 0 <= beta < 1. Received: beta={beta!r}. Pass e.g. 0.98."
            )
        self.start_lr, self.end_lr, self.num_iter = float(start_lr), float(end_lr), num_iter
        self.stop_div, self.beta, self.restore = stop_div, beta, restore
        self.result: LRFinderResult | None = None
        self._lr = self.start_lr

    # ------------------------------------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        trainer = self.model.trainer
        opt = trainer.optimizer
        # Clones, not references: training changes the tensors in place. Buffers too (BN running statistics).
        self._saved_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._saved_optimizer = opt.state_dict()
        # The rate as it was given (a float, a schedule or a callable), so a schedule comes back as the schedule.
        self._saved_lr = opt._learning_rate
        self._saved_counters = (trainer.global_step, trainer.position)
        # A callable is accepted even where a schedule drives the rate (the setter refuses floats then).
        opt.learning_rate = lambda: self._lr
        self._iter, self._avg, self._best = 0, 0.0, math.inf
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._raw: list[float] = []
        self._diverged = False

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        # fastai's SchedExp at pos = iteration / num_iter.
        self._lr = self.start_lr * (self.end_lr / self.start_lr) ** (self._iter / self.num_iter)
        # The logged loss is the running mean of the epoch; reset it so it is this batch's loss alone.
        self.model.trainer.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = float((logs or {}).get("loss", math.nan))
        self._iter += 1
        self._avg = self.beta * self._avg + (1.0 - self.beta) * loss
        smooth = self._avg / (1.0 - self.beta**self._iter)
        self._lrs.append(self._lr)
        self._raw.append(loss)
        self._losses.append(smooth)
        if smooth < self._best:
            self._best = smooth
        if self.stop_div and (not math.isfinite(smooth) or smooth > 4 * self._best):
            self._diverged = True
            self.model.stop_training = True
        elif self._iter >= self.num_iter:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        self.result = self._make_result()
        if self.restore:
            self.restore_state()

    def restore_state(self) -> None:
        """Puts back the weights, the optimizer (slots, step count, learning rate) and the trainer's counters."""
        trainer = self.model.trainer
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(self._saved_weights[k])  # in place: the optimizer stays bound to the same tensors
        trainer.optimizer.learning_rate = self._saved_lr
        trainer.optimizer.load_state_dict(self._saved_optimizer)
        trainer.global_step, trainer.position = self._saved_counters
        trainer.reset_metrics()
        self.model.stop_training = False

    # ------------------------------------------------------------------------------------------- suggestion
    def _make_result(self) -> LRFinderResult:
        lrs, losses = self._lrs, self._losses
        # As fastai: skip the first tenth (the smoothing warms up) and the last 5 points (the blow-up), and cut at
        # the first NaN.
        lo, hi = len(lrs) // 10, max(len(lrs) - 5, len(lrs) // 10 + 1)
        sl, ss = lrs[lo:hi], losses[lo:hi]
        for i, v in enumerate(ss):
            if not math.isfinite(v):
                sl, ss = sl[:i], ss[:i]
                break
        suggestions: dict[str, float] = {}
        if len(ss) >= 2:
            suggestions["valley"] = sl[suggest_valley(sl, ss)]
            suggestions["minimum"] = sl[min(range(len(ss)), key=ss.__getitem__)] / 10.0
            logs = [math.log(x) for x in sl]
            slopes = [(ss[i + 1] - ss[i]) / (logs[i + 1] - logs[i]) for i in range(len(ss) - 1)]
            suggestions["steep"] = sl[min(range(len(slopes)), key=slopes.__getitem__)]
        else:  # too few batches to read a curve: the first rate is the safe answer
            suggestions["valley"] = suggestions["minimum"] = suggestions["steep"] = self.start_lr
        return LRFinderResult(
            lrs=list(lrs),
            losses=list(losses),
            raw_losses=list(self._raw),
            diverged=self._diverged,
            suggestion=suggestions["valley"],
            suggestions=suggestions,
        )
