"""The inference fast path of functional models: Conv2D / DepthwiseConv2D + BatchNormalization folded into one
convolution, with the activation or the residual ``Add`` (and its activation) that follows run in the same call.

At inference a BatchNormalization is an affine map per channel, ``(y - mean) * gamma / sqrt(var + eps) + beta``, so
after a convolution ``y = conv(x, W) + b`` it folds into the convolution: ``W' = W * s`` and ``b' = (b - mean) * s +
beta`` with ``s = gamma / sqrt(var + eps)`` per output channel. The result equals the two layers' up to float32
rounding (the fold is computed in float64); on the CPU the activation (relu, relu6, swish, hard_swish) and a
following ``Add`` with a ``relu`` run as oneDNN post-ops of the same convolution, so each block reads and writes
its activations once instead of three or four times.

The fast path is taken only where nothing can tell the difference: ``training=False`` with gradients off (what
``predict`` and ``torch.inference_mode`` give), no forward hooks on the layers involved (Grad-CAM, feature maps,
``predict``'s own sizing pass see every layer's output), and not while tracing, exporting or compiling. Anything
else runs layer by layer. The folded weights are cached and
recomputed when a source weight is written or replaced: the cache is keyed on each weight's storage and torch's
version counter, which every in-place write bumps (optimizer steps and BatchNorm statistics in ``fit``,
``set_weights``, ``load_weights``, ``assign``, ``load_state_dict``, ``.to(device)``). Writes through ``tensor.data``
bypass that counter (as they bypass autograd): write weights with ``assign``/``set_weights`` or in-place under
``torch.no_grad()`` instead.

Example:
    >>> import cnnkit, torch
    >>> x = cnnkit.layers.Input((16, 16, 3))
    >>> y = cnnkit.layers.Conv2D(8, 3, use_bias=False)(x)
    >>> y = cnnkit.layers.ReLU(6.0)(cnnkit.layers.BatchNormalization()(y))
    >>> model = cnnkit.Model(x, y)
    >>> [type(s).__name__ for s in plan(model._exec_nodes, model._output_tensors)]
    ['FoldedConv']
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules import module as _torch_module

from cnnkit import activations
from cnnkit.layers.conv import Conv2D
from cnnkit.layers.conv_depthwise import DepthwiseConv2D
from cnnkit.layers.conv_utils import can_fuse, fused_conv, pad_same_2d, post_op
from cnnkit.layers.core import Activation, Dropout, ReLU
from cnnkit.layers.merging import Add
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.symbolic import Node

__all__ = ["FoldedConv", "enabled", "plan"]


def enabled(training: bool) -> bool:
    """Whether this call may take the fast path (see the module docstring)."""
    return (
        not training
        and not torch.is_grad_enabled()
        and not _torch_module._global_forward_hooks
        and not _torch_module._global_forward_pre_hooks
        and not torch.jit.is_tracing()
        and not torch.onnx.is_in_onnx_export()
        and not torch.compiler.is_compiling()
    )


def _hooked(layer: torch.nn.Module) -> bool:
    return bool(layer._forward_hooks or layer._forward_pre_hooks)


def _plain(node: Node) -> bool:
    """A node called as ``layer(x)`` on one tensor, with no call arguments, producing one tensor."""
    return not node.kwargs and node.inputs_structure == "single" and node.outputs_structure == "single"


def _activation(layer: Any) -> Any:
    """The activation function a plain activation layer applies (one with a oneDNN post-op), else None."""
    if type(layer) is Activation:
        fn = layer.activation
        return fn if post_op(fn) is not None else None
    if type(layer) is ReLU and layer.negative_slope == 0 and layer.threshold == 0:
        return activations.relu if layer.max_value is None else ("hardtanh", [0.0, float(layer.max_value)])
    return None


def _op(layer: Any) -> tuple[str, list[float]] | None:
    fn = _activation(layer)
    return fn if isinstance(fn, tuple) or fn is None else post_op(fn)


def _foldable_conv(layer: Any) -> bool:
    return (
        type(layer) in (Conv2D, DepthwiseConv2D)
        and layer.activation is activations.linear
        and layer.activity_regularizer is None
    )


def _foldable_bn(layer: Any, conv: Any) -> bool:
    channel_axis = 3 if conv.data_format == "channels_last" else 1
    return type(layer) is BatchNormalization and layer.axis % 4 == channel_axis


class FoldedConv:
    """One step of the fast path: conv -> BatchNormalization [-> activation | -> Dropout? -> Add [-> activation]].

    ``nodes`` are the graph nodes it stands for, in their order; they run instead whenever :meth:`usable` is False.
    """

    def __init__(self, nodes: list[Node], residual: Any = None) -> None:
        self.nodes = nodes
        self.conv, self.bn = nodes[0].layer, nodes[1].layer
        rest = [n.layer for n in nodes[2:] if type(n.layer) is not Dropout]
        add_at = next((i for i, layer in enumerate(rest) if type(layer) is Add), None)
        self.add = None if add_at is None else rest[add_at]
        self.act = rest[0] if rest and add_at != 0 else None
        self.after_add = rest[add_at + 1] if add_at is not None and add_at + 1 < len(rest) else None
        self.input_id = id(nodes[0].inputs[0])
        self.residual_id = None if residual is None else id(residual)  # the Add's other input
        self.output_id = id(nodes[-1].outputs[0])
        self._key: tuple = ()
        self._weights: tuple[torch.Tensor, torch.Tensor] | None = None

    def usable(self) -> bool:
        """The conditions a user can change after the model is built: hooks, and the layers' settings."""
        return (
            not any(_hooked(n.layer) for n in self.nodes)
            and _foldable_conv(self.conv)
            and _foldable_bn(self.bn, self.conv)
            and all(layer is None or _op(layer) is not None for layer in (self.act, self.after_add))
        )

    def invalidate(self) -> None:
        self._key, self._weights = (), None

    def folded_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(kernel, bias) of the folded convolution, torch's layout; recomputed when a source weight changed."""
        conv, bn = self.conv, self.bn
        sources = [conv.kernel, bn.moving_mean, bn.moving_variance]
        sources += [getattr(layer, n) for layer, n, used in ((conv, "bias", conv.use_bias), (bn, "gamma", bn.scale),
                                                            (bn, "beta", bn.center)) if used]  # fmt: skip
        key = (*((t.data_ptr(), t._version, t.device) for t in sources), bn.epsilon)
        if key != self._key or self._weights is None:
            with torch.no_grad():
                kernel = conv.kernel
                if type(conv) is DepthwiseConv2D:  # stored (in, dm, kh, kw); torch's grouped kernel is (in*dm, 1, ...)
                    kernel = kernel.reshape(kernel.shape[0] * kernel.shape[1], 1, *kernel.shape[2:])
                scale = torch.rsqrt(bn.moving_variance.double() + bn.epsilon)
                if bn.scale:
                    scale = scale * bn.gamma.double()
                bias = conv.bias.double() if conv.use_bias else torch.zeros_like(scale)
                bias = (bias - bn.moving_mean.double()) * scale
                if bn.center:
                    bias = bias + bn.beta.double()
                weight = (kernel.double() * scale.view(-1, 1, 1, 1)).to(kernel.dtype)
                self._weights = (weight.contiguous(memory_format=torch.channels_last), bias.to(kernel.dtype))
            self._key = key
        return self._weights

    def __call__(self, values: dict[int, Any]) -> torch.Tensor | None:
        """The output of the whole step, or None when the inputs do not suit the fast path (then run ``nodes``)."""
        x = values[self.input_id]
        if not isinstance(x, torch.Tensor):
            return None
        if x.dtype != torch.float32 and not torch.is_autocast_enabled(x.device.type):
            return None
        conv = self.conv
        weight, bias = self.folded_weights()
        channels_last = conv.data_format == "channels_last"
        x = x.permute(0, 3, 1, 2) if channels_last else x
        padding: Any = 0
        if conv.padding == "same":
            x, padding = pad_same_2d(x, conv.kernel_size, conv.strides, conv.dilation_rate)
        groups = conv.groups if type(conv) is Conv2D else x.shape[1]
        residual = None
        if self.residual_id is not None:
            residual = values[self.residual_id]
            residual = residual.permute(0, 3, 1, 2) if channels_last else residual
        op = None if self.act is None else _op(self.act)
        after = None if self.after_add is None else _op(self.after_add)
        if can_fuse(x) and (residual is None or _fits(residual, x)):
            out = fused_conv(x, weight, bias, padding, conv.strides, conv.dilation_rate, groups, op, residual, after)
        else:
            out = F.conv2d(x, weight, bias, conv.strides, padding, conv.dilation_rate, groups)
            out = out if self.act is None else _apply(self.act, out)
            if residual is not None:
                out = out + residual
                out = out if self.after_add is None else _apply(self.after_add, out)
        return out.permute(0, 2, 3, 1) if channels_last else out


def _fits(residual: torch.Tensor, x: torch.Tensor) -> bool:
    return (
        residual.dtype == torch.float32
        and residual.device == x.device
        and residual.shape[0] == x.shape[0]
        and residual.is_contiguous(memory_format=torch.channels_last)
    )


def _apply(layer: Any, x: torch.Tensor) -> torch.Tensor:
    fn = _activation(layer)
    return F.hardtanh(x, *fn[1]) if isinstance(fn, tuple) else fn(x)


def plan(nodes: list[Node], outputs: list[Any]) -> list[Node | FoldedConv]:
    """``nodes`` (a functional model's nodes in execution order) with each foldable chain replaced by one
    :class:`FoldedConv`, placed where the chain's last node was (every input of the chain exists by then)."""
    uses: dict[int, int] = {id(t): 1 for t in outputs}  # a model output is used outside the graph
    consumer: dict[int, Node] = {}
    for node in nodes:
        for t in node.inputs:
            uses[id(t)] = uses.get(id(t), 0) + 1
            consumer[id(t)] = node

    def only_consumer(node: Node) -> Node | None:
        """The one node that reads `node`'s output, unless another step has taken it already."""
        t = node.outputs[0]
        nxt = consumer.get(id(t)) if uses.get(id(t), 0) == 1 else None
        return None if nxt is None or id(nxt) in absorbed else nxt

    steps: dict[int, FoldedConv] = {}
    absorbed: set[int] = set()
    for node in nodes:
        if id(node) in absorbed or not _plain(node) or not _foldable_conv(node.layer):
            continue
        bn = only_consumer(node)
        if bn is None or not _plain(bn) or not _foldable_bn(bn.layer, node.layer):
            continue
        chain, residual = [node, bn], None
        nxt = only_consumer(bn)
        if nxt is not None and _plain(nxt) and type(nxt.layer) is Dropout:  # identity at inference
            chain.append(nxt)
            nxt = only_consumer(nxt)
        if nxt is not None and _plain(nxt) and _op(nxt.layer) is not None and type(chain[-1].layer) is not Dropout:
            chain.append(nxt)
        elif nxt is not None and _residual(nxt, chain[-1]) is not None:
            residual = _residual(nxt, chain[-1])
            chain.append(nxt)
            after = only_consumer(nxt)
            if after is not None and _plain(after) and _op(after.layer) is not None:
                chain.append(after)
        if any(_hooked(n.layer) for n in chain):
            continue
        step = FoldedConv(chain, residual)
        steps[id(chain[-1])] = step
        absorbed.update(id(n) for n in chain)
    return [steps[id(n)] if id(n) in steps else n for n in nodes if id(n) not in absorbed or id(n) in steps]


def _residual(node: Node, previous: Node) -> Any:
    """For ``Add()([a, b])`` of the chain's tensor and another tensor of the same static shape: the other tensor."""
    if type(node.layer) is not Add or node.kwargs or node.inputs_structure != "list" or len(node.inputs) != 2:
        return None
    mine = previous.outputs[0]
    if [id(t) for t in node.inputs].count(id(mine)) != 1:
        return None
    other = node.inputs[1] if node.inputs[0] is mine else node.inputs[0]
    if tuple(other.shape[1:]) != tuple(mine.shape[1:]) or None in tuple(mine.shape[1:]):
        return None
    return other
