"""The compiled loss and metrics of a model: total loss, the on-device loss tracker, metric updates and logs.

Keras semantics: the reported ``loss`` is the batch-size-weighted mean of each batch's total loss (including
regularization losses); ``metrics`` are updated without sample weights, ``weighted_metrics`` with them; log keys are
sorted by name (Keras' logs go through a sorted tree flatten), and ``evaluate`` lists the loss first.
"""

from __future__ import annotations

from typing import Any

import torch

from cnnkit import losses, metrics
from cnnkit.common.naming import to_snake_case
from cnnkit.losses.loss import Loss, to_tensor
from cnnkit.metrics.accuracy import BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy
from cnnkit.metrics.metric import Metric
from cnnkit.training import data_adapter as da


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class CompiledLossAndMetrics:
    """Resolves the compile arguments and does the loss/metric bookkeeping of every step."""

    def __init__(self, loss: Any, loss_weights: Any = None, metrics: Any = None, weighted_metrics: Any = None) -> None:
        if isinstance(loss, dict) and set(loss) == {"class_name", "config"}:  # one Loss object, as a saved model has it
            loss = losses.get(loss)
        self._structure = "dict" if isinstance(loss, dict) else "list" if isinstance(loss, (list, tuple)) else "single"
        if self._structure == "dict":
            self.loss_fns = {k: losses.get(v) for k, v in loss.items()}
        elif self._structure == "list":
            self.loss_fns = [losses.get(v) for v in loss]
        else:
            self.loss_fns = losses.get(loss) if loss is not None else None
        self.loss_weights = loss_weights
        self._metric_specs = [(m, False) for m in _as_list(metrics)] + [(m, True) for m in _as_list(weighted_metrics)]
        self._resolved: list[tuple[Any, bool]] | None = None
        self._loss_sum = self._loss_count = None
        self._pending: list | None = None

    # ------------------------------------------------------------------------------------------------- loss
    def loss(self, y: Any, y_pred: Any, sample_weight: Any, regularization: list | None) -> torch.Tensor:
        # No float32 cast here: cnnkit losses cast themselves and keep the logits a sigmoid/softmax output carries.
        total = None
        if self._structure == "single" and self.loss_fns is not None:
            total = self.loss_fns(y, y_pred, sample_weight=sample_weight)
        elif self._structure != "single":
            keys = self.loss_fns.keys() if self._structure == "dict" else range(len(self.loss_fns))
            weights = self.loss_weights
            for k in keys:
                sw = sample_weight[k] if isinstance(sample_weight, (dict, list, tuple)) else sample_weight
                term = self.loss_fns[k](y[k], y_pred[k], sample_weight=sw)
                if weights is not None:
                    term = term * weights[k]
                total = term if total is None else total + term
        for r in regularization or []:
            r = r.float().sum()
            total = r if total is None else total + r
        if total is None:
            raise ValueError(
                "No loss to optimize. Expected a loss in compile() or regularization losses in the model. "
                "Received: loss=None. Pass loss='binary_crossentropy' (or another loss) to compile()."
            )
        return total

    # ---------------------------------------------------------------------------------------------- metrics
    def _resolve(self, y: Any, y_pred: Any) -> None:
        loss = self.loss_fns if self._structure == "single" else None
        self._resolved = []
        for spec, weighted in self._metric_specs:
            if isinstance(spec, str):
                metric = resolve_metric(spec, loss, y, y_pred)
            elif isinstance(spec, (dict, type)) or not hasattr(spec, "update_state"):
                metric = metrics.get(spec)  # a config dict (from a saved model), a class or a plain function
            else:
                metric = spec
            self._resolved.append((metric, weighted))

    @property
    def metrics(self) -> list:
        return [m for m, _ in self._resolved or []]

    def update(self, loss: torch.Tensor, y: Any, y_pred: Any, sample_weight: Any, batch_size: int) -> None:
        """Accumulates on the device; nothing here waits for the device or reads values back."""
        if self._loss_sum is None:
            self._loss_sum = torch.zeros((), dtype=torch.float32, device=loss.device)
            self._loss_count = torch.zeros((), dtype=torch.float32, device=loss.device)
        elif self._loss_sum.device != loss.device:  # restored from a checkpoint (CPU) onto a GPU run
            self._loss_sum, self._loss_count = self._loss_sum.to(loss.device), self._loss_count.to(loss.device)
        self._loss_sum.add_(loss.detach().float() * batch_size)
        self._loss_count.add_(batch_size)
        if self._metric_specs:
            y_pred = da.map_structure(lambda t: t.detach().float(), y_pred)
            if self._resolved is None:
                self._resolve(y, y_pred)
                if self._pending:  # resumed mid-epoch: one throwaway update creates lazily-built state to load into
                    for metric, weighted in self._resolved:
                        metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)
                    self._load_metric_states(self._pending)
                    self._pending = None
            for metric, weighted in self._resolved:
                metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)

    def reset(self) -> None:
        self._pending = None
        if self._loss_sum is not None:
            self._loss_sum.zero_()
            self._loss_count.zero_()
        for metric, _ in self._resolved or []:
            metric.reset_state()

    def results(self) -> dict[str, float]:
        """Current values, keys sorted as Keras sorts them."""
        logs = {}
        if self._loss_sum is not None:
            logs["loss"] = float(self._loss_sum / self._loss_count.clamp_min(1))
        for metric, _ in self._resolved or []:
            value = metric.result()
            if isinstance(value, dict):
                logs.update({k: float(v) for k, v in value.items()})
            else:
                logs[metric.name] = float(value)
        return dict(sorted(logs.items()))

    def ordered(self, logs: dict[str, float]) -> float | list[float]:
        """``evaluate``'s list form: loss, then metrics in compile order, then the rest sorted; a lone loss alone."""
        names = ["loss"] + [m.name for m in self.metrics]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # ----------------------------------------------------------------------------------------- checkpointing
    def state(self) -> dict:
        metrics = []
        for metric, _ in self._resolved or []:
            if hasattr(metric, "state_dict"):
                metrics.append(metric.state_dict())
            elif hasattr(metric, "variables"):
                metrics.append([v.detach().clone() for v in metric.variables])
            else:
                metrics.append(None)
        loss = None if self._loss_sum is None else [self._loss_sum.clone(), self._loss_count.clone()]
        return {"loss": loss, "metrics": metrics}

    def load_state(self, state: dict) -> None:
        if state["loss"] is not None:
            self._loss_sum, self._loss_count = (t.clone() for t in state["loss"])
        saved = state["metrics"]
        if self._resolved is None and saved:
            self._pending = saved  # metrics are resolved on the first batch; restored then
            return
        self._load_metric_states(saved)

    def _load_metric_states(self, saved: list) -> None:
        for (metric, _), s in zip(self._resolved or [], saved, strict=False):
            if s is None:
                continue
            if hasattr(metric, "load_state_dict"):
                metric.load_state_dict(s)
            elif hasattr(metric, "variables"):
                for v, value in zip(metric.variables, s, strict=False):
                    v.copy_(value)


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return to_snake_case(loss) if loss[:1].isupper() else loss.lower()
    if isinstance(loss, losses.LossFunctionWrapper):
        return to_snake_case(getattr(loss.fn, "__name__", ""))
    if isinstance(loss, Loss):
        return to_snake_case(type(loss).__name__)
    return to_snake_case(getattr(loss, "__name__", type(loss).__name__))


def resolve_metric(identifier: Any, loss: Any = None, y_true: Any = None, y_pred: Any = None) -> Metric:
    """Resolves one `compile(metrics=[...])` entry the way Keras 3 does, naming it for History.

    `'accuracy'`/`'acc'` becomes `BinaryAccuracy` when `y_pred` has one unit, `SparseCategoricalAccuracy` when
    `y_true` has a lower rank than `y_pred` (or a last dimension of 1 against several classes), and
    `CategoricalAccuracy` otherwise; the metric is named exactly as written (`'acc'` stays `'acc'`). Without
    example tensors the loss decides (binary/sparse/categorical crossentropy). Other strings resolve with `get()`
    and keep the string as their name (`'AUC'` -> `'AUC'`); objects keep their own name.

    Example:
        >>> labels, probabilities = torch.tensor([0, 2]), torch.full((2, 3), 1 / 3)
        >>> metric = resolve_metric("accuracy", "sparse_categorical_crossentropy", labels, probabilities)
        >>> type(metric).__name__, metric.name
        ('SparseCategoricalAccuracy', 'accuracy')
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        if y_true is not None and y_pred is not None:
            t_shape, p_shape = tuple(to_tensor(y_true, None).shape), tuple(to_tensor(y_pred, None).shape)
            t_last = t_shape[-1] if t_shape else 1
            p_last = p_shape[-1] if p_shape else 1
            binary = p_last == 1
            sparse = len(t_shape) < len(p_shape) or (t_last == 1 and p_last > 1)
        else:
            name = _loss_name(loss) if loss is not None else ""
            binary = name in ("binary_crossentropy", "bce")
            sparse = name == "sparse_categorical_crossentropy"
            if not (binary or sparse or name == "categorical_crossentropy"):
                raise ValueError(
                    "Cannot tell which accuracy 'accuracy' means. Expected example labels and predictions, or a "
                    f"crossentropy loss. Received: loss={loss!r}, y_true=None, y_pred=None. Pass y_true and y_pred "
                    "from the first batch, or name the metric, e.g. 'sparse_categorical_accuracy'."
                )
        cls = BinaryAccuracy if binary else SparseCategoricalAccuracy if sparse else CategoricalAccuracy
        return cls(name=identifier)
    metric = metrics.get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
