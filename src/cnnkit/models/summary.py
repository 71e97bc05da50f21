"""``model.summary()``: Keras 3's table (layer and type, output shape, parameter count) with the same numbers."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from cnnkit.layers.base import Layer


def readable_size(num_bytes: float) -> str:
    """Bytes as Keras prints them: ``6.20 MB`` (1024-based)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes < 1024 or unit == "TB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return ""


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _wrap(text: str, width: int) -> list[str]:
    lines = []
    for chunk in textwrap.wrap(text, width=max(1, width), break_long_words=False, break_on_hyphens=False) or [""]:
        lines.append(chunk if len(chunk) <= width else chunk[: width - 1] + "…")
    return lines


def _rows(model: Any) -> list[list[str]]:
    functional = hasattr(model, "_exec_nodes")
    rows = []
    if functional:
        refs = model._node_refs()
        mine = {id(n) for n in model._nodes}
        for layer in model.layers:
            nodes = [n for n in layer._inbound_nodes if id(n) in mine]
            shapes = [t.shape for n in nodes for t in n.outputs]
            shape = _fmt_shape(shapes[0]) if len(shapes) == 1 else _fmt_shape(shapes)
            sources = [f"{refs[id(t.node)][0]}[{refs[id(t.node)][1]}][{t.index}]" for n in nodes for t in n.inputs]
            rows.append(
                [f"{layer.name} ({type(layer).__name__})", shape, f"{_params(layer):,}", ", ".join(sources) or "-"]
            )
        return rows
    shape = model._build_input_shape
    for layer in model.layers:
        shape = layer.compute_output_shape(shape) if shape is not None else None
        rows.append(
            [
                f"{layer.name} ({type(layer).__name__})",
                "?" if shape is None else _fmt_shape(shape),
                f"{_params(layer):,}",
            ]
        )
    return rows


def _params(layer: Layer) -> int:
    return layer.count_params() if layer.built else 0


def print_summary(
    model: Any,
    line_length: int | None = None,
    print_fn: Callable[[str], Any] | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
) -> None:
    print_fn = print_fn or print
    functional = hasattr(model, "_exec_nodes")
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    widths = [19, 17, 10, 17] if functional else [31, 22, 13]
    if line_length:
        scale = (line_length - 1 - 3 * len(widths)) / sum(widths)
        widths = [max(8, int(w * scale)) for w in widths]
    right = {2}

    def border(left: str, mid: str, end: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + end

    def line(cells: list[str], bar: str) -> str:
        parts = [(c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(cells, widths))]
        return bar + bar.join(f" {p} " for p in parts) + bar

    out = [f'Model: "{model.name}"', border("┏", "┳", "┓", "━"), line(headers, "┃"), border("┡", "╇", "┩", "━")]
    rows = _rows(model)
    for i, row in enumerate(rows):
        cells = [_wrap(c, w) if j != 2 else [c] for j, (c, w) in enumerate(zip(row, widths))]
        if functional:
            cells[3] = [part for chunk in _wrap(row[3], widths[3]) for part in [chunk]]
        height = max(len(c) for c in cells)
        for k in range(height):
            out.append(line([c[k] if k < len(c) else "" for c in cells], "│"))
        out.append(border("├", "┼", "┤", "─") if i < len(rows) - 1 else border("└", "┴", "┘", "─"))
    if not rows:
        out.append(border("└", "┴", "┘", "─"))
    total = model.count_params()
    trainable = sum(w.numel() for w in model.trainable_weights)
    itemsize = 4
    out += [
        f" Total params: {total:,} ({readable_size(total * itemsize)})",
        f" Trainable params: {trainable:,} ({readable_size(trainable * itemsize)})",
        f" Non-trainable params: {total - trainable:,} ({readable_size((total - trainable) * itemsize)})",
    ]
    print_fn("\n".join(out))
