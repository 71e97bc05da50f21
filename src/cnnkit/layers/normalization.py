"""BatchNormalization with Keras 3 semantics (momentum 0.99, epsilon 1e-3, frozen = inference mode)."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from cnnkit import initializers, regularizers
from cnnkit.distribution.process import is_initialized
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.registry import register_layer


@register_layer
class BatchNormalization(Layer):
    """Normalize over the batch along ``axis`` (default: the channels, last axis).

    In training the batch statistics are used and the moving averages are updated as Keras does:
    ``moving = moving * momentum + batch * (1 - momentum)``, with the *biased* batch variance (torch would use
    the unbiased one). A layer with ``trainable = False`` always runs in inference mode, as in Keras 3: that is
    what makes a frozen pretrained base safe to fine-tune.

    ``synchronized=True`` (Keras' argument) computes the batch statistics over the whole global batch when training
    data-parallel under DDP (as torch's ``SyncBatchNorm``): the moments are all-reduced across the replicas, with
    gradients flowing back through the reduction, so a replica's output equals one process's on the whole batch.
    In a single process it is ordinary batch normalization.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        synchronized: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum}.")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon}.")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale, self.synchronized = center, scale, bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        ndim = len(input_shape)
        axis = self.axis % ndim
        if axis == 0 or input_shape[axis] is None:
            raise ValueError(
                f"BatchNormalization {self.name!r} normalizes along axis {self.axis}, which must be a known, non-batch "
                f"axis. Received: input_shape={tuple(input_shape)}."
            )
        n = int(input_shape[axis])
        if self.scale:
            self.add_weight("gamma", (n,), self.gamma_initializer, regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", (n,), self.beta_initializer, regularizer=self.beta_regularizer)
        self.add_weight("moving_mean", (n,), self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", (n,), self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={axis: n})

    def call(self, inputs, training=False):
        ndim = inputs.ndim
        axis = self.axis % ndim
        # torch normalizes along axis 1; a channels-last image viewed as NCHW is a free view in channels_last memory.
        x = inputs.movedim(axis, 1) if axis != 1 else inputs
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        if training and self.trainable and self.synchronized and is_initialized():
            out, mean, variance = _synchronized_batch_norm(x, gamma, beta, self.epsilon)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.to(self.moving_mean.dtype), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(
                    variance.to(self.moving_variance.dtype), alpha=1 - self.momentum
                )
        elif training and self.trainable:
            out, mean, invstd = torch.native_batch_norm(x, gamma, beta, None, None, True, 0.0, self.epsilon)
            with torch.no_grad():
                # native_batch_norm returns 1/sqrt(var + eps) of the biased batch variance: recover var from it
                # instead of a second pass over the data.
                variance = invstd.double().pow(-2).sub(self.epsilon).clamp_min(0).to(invstd.dtype)
                self.moving_mean.mul_(self.momentum).add_(mean.to(self.moving_mean.dtype), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(variance, alpha=1 - self.momentum)
        else:
            out = F.batch_norm(x, self.moving_mean, self.moving_variance, gamma, beta, False, 0.0, self.epsilon)
        return out.movedim(1, axis) if axis != 1 else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "synchronized": self.synchronized,
        }


def _synchronized_batch_norm(x: torch.Tensor, gamma: Any, beta: Any, epsilon: float) -> tuple:
    """Batch norm of ``x`` (channels on axis 1) with the moments of every replica's rows; returns (out, mean, var).

    Two all-reduces (sum, then the sum of squared deviations from the global mean: as exact as one process's
    two-pass variance); :class:`_AllReduceSum` makes them differentiable, so each replica's input gradient
    includes the other replicas' terms."""
    dims = [0, *range(2, x.ndim)]
    shape = [1, -1] + [1] * (x.ndim - 2)
    xf = x.float()
    count = torch.tensor([x.numel() // max(x.shape[1], 1)], dtype=torch.float32, device=x.device)
    totals = _AllReduceSum.apply(torch.cat([xf.sum(dims), count]))
    n = totals[-1].detach()
    mean = totals[:-1] / n
    centered = xf - mean.view(shape)
    variance = _AllReduceSum.apply((centered * centered).sum(dims)) / n
    out = centered * torch.rsqrt(variance + epsilon).view(shape)
    if gamma is not None:
        out = out * gamma.view(shape)
    if beta is not None:
        out = out + beta.view(shape)
    return out.to(x.dtype), mean.detach(), variance.detach()


class _AllReduceSum(torch.autograd.Function):
    """A sum over the replicas whose gradient is the sum of the replicas' gradients (an all-reduce both ways)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad
