"""Minimal Keras-formula optimizers, losses and metrics, used only while cnnkit's own (branch `opt`) are missing.

They let the training loop be tested on its own; once cnnkit.optimizers/losses/metrics exist, conftest.py uses
those instead and this file is unused.
"""

from __future__ import annotations

import sys
import types

import torch


class _Optimizer:
    def __init__(self, learning_rate=0.01):
        self.learning_rate, self.iterations, self.params = learning_rate, 0, []

    def build(self, params):
        self.params = list(params)
        self._build()

    def _build(self):
        pass

    def step(self):
        self.iterations += 1
        with torch.no_grad():
            self._apply()

    def state_dict(self):
        return {"lr": self.learning_rate, "iterations": self.iterations, "slots": self._slots()}

    def load_state_dict(self, state):
        self.learning_rate, self.iterations = state["lr"], state["iterations"]
        for dst, src in zip(self._slots(), state["slots"], strict=True):
            dst.copy_(src)

    def _slots(self):
        return []


class SGD(_Optimizer):
    def _apply(self):
        for p in self.params:
            p.sub_(self.learning_rate * p.grad)


class Adam(_Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.b1, self.b2, self.eps = beta_1, beta_2, epsilon

    def _build(self):
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def _slots(self):
        return self.m + self.v

    def _apply(self):
        t = self.iterations
        lr = self.learning_rate * (1 - self.b2**t) ** 0.5 / (1 - self.b1**t)
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            m.add_((p.grad - m) * (1 - self.b1))
            v.add_((p.grad.square() - v) * (1 - self.b2))
            p.sub_(m * lr / (v.sqrt() + self.eps))


def get_optimizer(identifier):
    if isinstance(identifier, str):
        return {"sgd": SGD, "adam": Adam, "rmsprop": SGD}[identifier.lower()]()
    return identifier


def _reduce(values, sample_weight):
    if sample_weight is not None:
        values = values * sample_weight.reshape(values.shape)
    return values.mean()


def binary_crossentropy(y_true, y_pred, sample_weight=None):
    p = y_pred.clamp(1e-7, 1 - 1e-7)
    y = y_true.reshape(p.shape).float()
    return _reduce(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(dim=-1), sample_weight)


def categorical_crossentropy(y_true, y_pred, sample_weight=None):
    p = y_pred / y_pred.sum(-1, keepdim=True)
    p = p.clamp(1e-7, 1 - 1e-7)
    return _reduce(-(y_true * torch.log(p)).sum(-1), sample_weight)


def sparse_categorical_crossentropy(y_true, y_pred, sample_weight=None):
    y = torch.nn.functional.one_hot(y_true.reshape(-1).long(), y_pred.shape[-1]).float()
    return categorical_crossentropy(y, y_pred, sample_weight)


def mse(y_true, y_pred, sample_weight=None):
    return _reduce((y_pred - y_true.reshape(y_pred.shape)).square().mean(dim=-1), sample_weight)


def get_loss(identifier):
    if isinstance(identifier, str):
        return {
            "binary_crossentropy": binary_crossentropy,
            "categorical_crossentropy": categorical_crossentropy,
            "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
            "mse": mse,
        }[identifier]
    return identifier


class Accuracy:
    def __init__(self, kind="binary", name="accuracy"):
        self.kind, self.name = kind, name
        self.total = self.count = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.kind == "binary":
            hit = ((y_pred > 0.5).float() == y_true.reshape(y_pred.shape).float()).float().mean(-1)
        elif self.kind == "sparse":
            hit = (y_pred.argmax(-1) == y_true.reshape(-1).long()).float()
        else:
            hit = (y_pred.argmax(-1) == y_true.argmax(-1)).float()
        if self.total is None:
            self.total = torch.zeros((), device=y_pred.device)
            self.count = torch.zeros((), device=y_pred.device)
        self.total += hit.sum()
        self.count += hit.numel()

    def result(self):
        return self.total / self.count if self.count is not None else torch.tensor(0.0)

    def reset_state(self):
        if self.total is not None:
            self.total.zero_()
            self.count.zero_()

    @property
    def variables(self):
        return [] if self.total is None else [self.total, self.count]


def resolve_metric(name, loss, y_true, y_pred):
    assert name in ("accuracy", "acc")
    loss_name = getattr(loss, "__name__", "")
    kind = "sparse" if loss_name.startswith("sparse") else "categorical" if "categorical" in loss_name else "binary"
    return Accuracy(kind, name)


def install() -> None:
    """Registers the stand-ins as cnnkit.optimizers / cnnkit.losses / cnnkit.training.metrics if those are missing."""
    import cnnkit

    for name, attrs in (
        ("cnnkit.optimizers", {"get": get_optimizer, "SGD": SGD, "Adam": Adam}),
        ("cnnkit.losses", {"get": get_loss}),
        ("cnnkit.training.metrics", {"resolve_metric": resolve_metric}),
    ):
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)
    del cnnkit
