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
    """Resolves the compile arguments and does the loss/metric bookkeeping of every step.

    Several outputs (a list or dict of predictions) follow Keras 3: ``loss`` is one loss for every output, a list
    (``None`` for an output without loss), or a dict keyed by output name; ``loss_weights`` likewise; ``metrics`` and
    ``weighted_metrics`` a list with one entry per output or a dict keyed by output name. Logs name each output's loss
    ``<output>_loss`` (when more than one output has a loss) and its metrics ``<output>_<metric>``.
    """

    def __init__(
        self,
        loss: Any,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        output_names: list[str] | None = None,
    ) -> None:
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"Expected `{name}` argument to be a list, tuple, or dict. Received instead: {name}={value} of "
                    f"type {type(value)}"
                )
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict, float, int)):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a list, tuple or dict. "
                f"Received instead: loss_weights={loss_weights} of type {type(loss_weights)}"
            )
        if isinstance(loss, dict) and set(loss) == {"class_name", "config"}:  # one Loss object, as a saved model has it
            loss = losses.get(loss)
        self._user = (loss, loss_weights, metrics, weighted_metrics)
        self.output_names = list(output_names or [])
        self._structure = "dict" if isinstance(loss, dict) else "list" if isinstance(loss, (list, tuple)) else "single"
        self.loss_fns = losses.get(loss) if self._structure == "single" and loss is not None else None
        self.loss_weights = loss_weights
        self._metric_specs = [(m, False) for m in _as_list(metrics)] + [(m, True) for m in _as_list(weighted_metrics)]
        self._resolved: list[tuple[Any, bool]] | None = None
        self._loss_sum = self._loss_count = None
        self._pending: list | None = None
        self._outputs: list[_Output] | None = None  # per-output losses and metrics, built on the first batch
        self._terms: list | None = None  # this step's per-output loss values, for the <output>_loss trackers

    # ------------------------------------------------------------------------------------------------- build
    def _build_outputs(self, y: Any, y_pred: Any) -> None:
        loss, loss_weights, metrics, weighted = self._user
        keys = list(y_pred) if isinstance(y_pred, dict) else list(range(len(y_pred)))
        names = self.output_names if len(self.output_names) == len(keys) else None
        if isinstance(y_pred, dict):
            names = list(y_pred)
        names = names or [f"output_{i + 1}" for i in range(len(keys))]
        fns = _per_output(loss, names, "loss")
        weights = _per_output(loss_weights, names, "loss_weights")
        plain = _per_output_metrics(metrics, names, "metrics", self.output_names)
        heavy = _per_output_metrics(weighted, names, "weighted_metrics", self.output_names)
        self._outputs = [
            _Output(k, n, losses.get(f) if f is not None else None, w, p, h)
            for k, n, f, w, p, h in zip(keys, names, fns, weights, plain, heavy)
        ]
        with_loss = [o for o in self._outputs if o.loss_fn is not None]
        if len(with_loss) > 1:
            for o in with_loss:
                o.tracker = [None, None]  # (sum, count) on the device, made on the first update

    def _is_multi(self, y_pred: Any) -> bool:
        return isinstance(y_pred, (list, tuple, dict)) and len(y_pred) > 1

    def _align_targets(self, y: Any) -> list:
        """``y`` as one target per output: a list/tuple in output order, a dict by output name, or (Keras' partial
        case) only the targets of the outputs that have a loss."""
        outs = self._outputs
        if isinstance(y, dict):
            missing = [o.name for o in outs if o.name not in y and o.loss_fn is not None]
            if missing:
                raise ValueError(
                    f"Missing targets for outputs {missing}. Expected y keyed by the output names "
                    f"{[o.name for o in outs]}. Received: y keys {list(y)}. Pass one target per output with a loss."
                )
            return [y.get(o.name) for o in outs]
        y = list(y) if isinstance(y, (list, tuple)) else [y]
        if len(y) == len(outs):
            return y
        with_loss = [i for i, o in enumerate(outs) if o.loss_fn is not None]
        if len(y) == len(with_loss):
            aligned = [None] * len(outs)
            for i, t in zip(with_loss, y):
                aligned[i] = t
            return aligned
        raise ValueError(
            f"y_true and y_pred have different structures. Expected {len(outs)} targets (one per output) or "
            f"{len(with_loss)} (one per output with a loss). Received: {len(y)} targets. Pass y as a list in the "
            "order of model.outputs or a dict keyed by output name."
        )

    # ------------------------------------------------------------------------------------------------- loss
    def loss(self, y: Any, y_pred: Any, sample_weight: Any, regularization: list | None) -> torch.Tensor:
        # No float32 cast here: cnnkit losses cast themselves and keep the logits a sigmoid/softmax output carries.
        total = None
        if self._is_multi(y_pred) or (self._structure != "single" and self.loss_fns is None):
            total = self._multi_loss(y, y_pred, sample_weight)
        elif self.loss_fns is not None:
            total = self.loss_fns(y, y_pred, sample_weight=sample_weight)
            if isinstance(self.loss_weights, (int, float)):
                total = total * self.loss_weights
        for r in regularization or []:
            r = r.float().sum()
            total = r if total is None else total + r
        if total is None:
            raise ValueError(
                "No loss to optimize. Expected a loss in compile() or regularization losses in the model. "
                "Received: loss=None. Pass loss='binary_crossentropy' (or another loss) to compile()."
            )
        return total

    def _multi_loss(self, y: Any, y_pred: Any, sample_weight: Any) -> torch.Tensor | None:
        if not self._is_multi(y_pred):  # one output, loss given as a one-entry list or dict (Keras accepts both)
            y_pred, y = [y_pred], [y] if not isinstance(y, (list, tuple, dict)) else y
        if self._outputs is None:
            self._build_outputs(y, y_pred)
        targets = self._align_targets(y)
        total, terms = None, []
        for o, target in zip(self._outputs, targets):
            if o.loss_fn is None:
                terms.append(None)
                continue
            sw = _pick(sample_weight, o)
            value = o.loss_fn(target, y_pred[o.key], sample_weight=sw)
            terms.append(value.detach())
            if o.weight is not None:
                value = value * o.weight
            total = value if total is None else total + value
        self._terms = terms
        return total

    # ---------------------------------------------------------------------------------------------- metrics
    def _resolve(self, y: Any, y_pred: Any) -> None:
        loss = self.loss_fns if self._structure == "single" else None
        self._resolved = []
        if self._outputs is not None and self._is_multi(y_pred):
            targets = self._align_targets(y)
            for o, target in zip(self._outputs, targets):
                for specs, weighted in ((o.metrics, False), (o.weighted_metrics, True)):
                    for spec in specs:
                        metric = _make_metric(spec, o.loss_fn, target, y_pred[o.key])
                        metric.name = f"{o.name}_{metric.name}"
                        self._resolved.append((metric, weighted, o))
            return
        for spec, weighted in self._metric_specs:
            self._resolved.append((_make_metric(spec, loss, y, y_pred), weighted, None))

    @property
    def metrics(self) -> list:
        return [entry[0] for entry in self._resolved or []]

    def update(self, loss: torch.Tensor, y: Any, y_pred: Any, sample_weight: Any, batch_size: int) -> None:
        """Accumulates on the device; nothing here waits for the device or reads values back."""
        if self._loss_sum is None:
            self._loss_sum = torch.zeros((), dtype=torch.float32, device=loss.device)
            self._loss_count = torch.zeros((), dtype=torch.float32, device=loss.device)
        elif self._loss_sum.device != loss.device:  # restored from a checkpoint (CPU) onto a GPU run
            self._loss_sum, self._loss_count = self._loss_sum.to(loss.device), self._loss_count.to(loss.device)
        self._loss_sum.add_(loss.detach().float() * batch_size)
        self._loss_count.add_(batch_size)
        for o, term in zip(self._outputs or [], self._terms or []):
            if o.tracker is not None and term is not None:
                if o.tracker[0] is None:
                    o.tracker = [torch.zeros((), device=loss.device), torch.zeros((), device=loss.device)]
                o.tracker[0].add_(term.float() * batch_size)
                o.tracker[1].add_(batch_size)
        if self._metric_specs or self._outputs is not None:
            y_pred = da.map_structure(lambda t: t.detach().float(), y_pred)
            if self._resolved is None:
                self._resolve(y, y_pred)
                if self._pending:  # resumed mid-epoch: one throwaway update creates lazily-built state to load into
                    self._update_metrics(y, y_pred, sample_weight)
                    self._load_metric_states(self._pending)
                    self._pending = None
            self._update_metrics(y, y_pred, sample_weight)

    def _update_metrics(self, y: Any, y_pred: Any, sample_weight: Any) -> None:
        per_output = any(entry[2] is not None for entry in self._resolved)
        targets = self._align_targets(y) if per_output else None
        for metric, weighted, o in self._resolved:
            if o is None:
                metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)
            else:
                sw = _pick(sample_weight, o) if weighted else None
                metric.update_state(targets[self._outputs.index(o)], y_pred[o.key], sample_weight=sw)

    def reset(self) -> None:
        self._pending = None
        if self._loss_sum is not None:
            self._loss_sum.zero_()
            self._loss_count.zero_()
        for o in self._outputs or []:
            if o.tracker is not None and o.tracker[0] is not None:
                o.tracker[0].zero_()
                o.tracker[1].zero_()
        for entry in self._resolved or []:
            entry[0].reset_state()

    def results(self) -> dict[str, float]:
        """Current values, keys sorted as Keras sorts them."""
        logs = {}
        if self._loss_sum is not None:
            logs["loss"] = float(self._loss_sum / self._loss_count.clamp_min(1))
        for o in self._outputs or []:
            if o.tracker is not None and o.tracker[0] is not None:
                logs[f"{o.name}_loss"] = float(o.tracker[0] / o.tracker[1].clamp_min(1))
        for entry in self._resolved or []:
            metric = entry[0]
            value = metric.result()
            if isinstance(value, dict):
                logs.update({k: float(v) for k, v in value.items()})
            else:
                logs[metric.name] = float(value)
        return dict(sorted(logs.items()))

    def ordered(self, logs: dict[str, float]) -> float | list[float]:
        """``evaluate``'s list form (Keras' order): loss, each output's loss, metrics in compile order, then the rest
        sorted; a lone loss alone."""
        names = ["loss"] + [f"{o.name}_loss" for o in self._outputs or []] + [m.name for m in self.metrics]
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # ----------------------------------------------------------------------------------------- checkpointing
    def state(self) -> dict:
        metrics = []
        for metric, *_ in self._resolved or []:
            if hasattr(metric, "state_dict"):
                metrics.append(metric.state_dict())
            elif hasattr(metric, "variables"):
                metrics.append([v.detach().clone() for v in metric.variables])
            else:
                metrics.append(None)
        loss = None if self._loss_sum is None else [self._loss_sum.clone(), self._loss_count.clone()]
        outputs = [
            None if o.tracker is None or o.tracker[0] is None else [t.clone() for t in o.tracker]
            for o in self._outputs or []
        ]
        return {"loss": loss, "metrics": metrics, "output_losses": outputs}

    def load_state(self, state: dict) -> None:
        if state["loss"] is not None:
            self._loss_sum, self._loss_count = (t.clone() for t in state["loss"])
        for o, tracker in zip(self._outputs or [], state.get("output_losses") or []):
            if tracker is not None and o.tracker is not None:
                o.tracker = [t.clone() for t in tracker]
        saved = state["metrics"]
        if self._resolved is None and saved:
            self._pending = saved  # metrics are resolved on the first batch; restored then
            return
        self._load_metric_states(saved)

    def _load_metric_states(self, saved: list) -> None:
        for (metric, *_), s in zip(self._resolved or [], saved, strict=False):
            if s is None:
                continue
            if hasattr(metric, "load_state_dict"):
                metric.load_state_dict(s)
            elif hasattr(metric, "variables"):
                for v, value in zip(metric.variables, s, strict=False):
                    v.copy_(value)


class _Output:
    """One model output: where it sits in ``y_pred`` (``key``), its name, loss, weight and metrics."""

    def __init__(self, key: Any, name: str, loss_fn: Any, weight: Any, metrics: list, weighted_metrics: list):
        self.key, self.name, self.loss_fn, self.weight = key, name, loss_fn, weight
        self.metrics, self.weighted_metrics = metrics, weighted_metrics
        self.tracker: list | None = None  # [sum, count] of this output's loss, when several outputs have one


def _per_output(value: Any, names: list[str], what: str) -> list:
    """A compile argument as one entry per output: a dict by name, a list in output order, or one for all."""
    if isinstance(value, dict):
        if set(value) != set(names):
            raise ValueError(f"Expected keys {names} in {what} dict, but found {what}.keys()={list(value.keys())}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(
                f"`{what}` must have one entry per output. Expected {len(names)} entries for outputs {names}. "
                f"Received: {what}={value!r}. Pass a list of {len(names)} (None for an output without one) or a dict."
            )
        return list(value)
    return [value for _ in names]  # one loss (or weight) for every output, as Keras


def _per_output_metrics(value: Any, names: list[str], what: str, model_names: list[str]) -> list[list]:
    if not value:
        return [[] for _ in names]
    if isinstance(value, (list, tuple)) and len(value) == len(names):
        return [_as_list(v) for v in value]
    if isinstance(value, dict) and set(value) <= set(names):
        return [_as_list(value.get(n)) for n in names]
    raise ValueError(
        f"Invalid `{what}`. `{what}` should contain metrics objects and either be a dict or a list matching the "
        f"output names of the functional model {model_names or names} or match the output structure of the model: "
        f"{['X'] * len(names)}.\nReceived: {what}={value}"
    )


def _pick(sample_weight: Any, output: _Output) -> Any:
    if isinstance(sample_weight, dict):
        return sample_weight.get(output.name)
    if isinstance(sample_weight, (list, tuple)):
        return sample_weight[output.key] if isinstance(output.key, int) else None
    return sample_weight


def _make_metric(spec: Any, loss: Any, y: Any, y_pred: Any) -> Metric:
    if isinstance(spec, str):
        return resolve_metric(spec, loss, y, y_pred)
    if isinstance(spec, (dict, type)) or not hasattr(spec, "update_state"):
        return metrics.get(spec)  # a config dict (from a saved model), a class or a plain function
    return spec


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
