"""Inference helpers for ``predict``: CPU slicing of big batches and collecting outputs as NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit.training import data_adapter as da

# A CPU forward pass whose activations exceed glibc's largest mmap threshold (32 MiB) maps and page-faults them
# in on every call, and spills the caches; running big predict batches in slices that stay below it is faster
# (measured here: batch 256 -> slices of ~48 on the tutorial model, about 1.3-1.6x on one thread).
_CHUNK_BYTES = 16 * 1024 * 1024


def cpu_chunk_size(model: torch.nn.Module, batch: Any) -> int:
    """Rows per forward call so that the largest activation stays under ``_CHUNK_BYTES`` (0: no slicing).

    The sizing pass (one row, every layer hooked, so nothing fused) costs about half a forward pass of eight rows
    on a loaded CPU (MobileNetV2 at 224x224), so its answer is kept on the model per input signature: rows per image
    shape, dtype and autocast dtype, and the model's number of modules (a model that grows is sized again)."""
    leaves = da.flatten(batch)
    first = leaves[0]
    if first.dim() == 0 or len(first) <= 8:
        return 0
    autocast = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
    key = (tuple((tuple(t.shape[1:]), t.dtype) for t in leaves if isinstance(t, torch.Tensor)), autocast,
           sum(1 for _ in model.modules()))  # fmt: skip
    cache = model.__dict__.setdefault("_cnnkit_predict_rows", {})
    if key not in cache:
        cache[key] = _rows_under_limit(model, batch)
    rows = cache[key]
    return 0 if rows >= len(first) else rows


def _rows_under_limit(model: torch.nn.Module, batch: Any) -> int:
    largest = [0]

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        for t in da.flatten(output) if isinstance(output, (list, tuple, dict)) else [output]:
            if isinstance(t, torch.Tensor):
                largest[0] = max(largest[0], t.numel() * t.element_size())

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        model(da.map_structure(lambda t: t[:1], batch), training=False)
    finally:
        for h in handles:
            h.remove()
    return max(8, _CHUNK_BYTES // max(largest[0], 1) // 8 * 8)


def split_rows(batch: Any, rows: int) -> list:
    n = len(da.flatten(batch)[0])
    if not rows or rows >= n:
        return [batch]
    return [da.map_structure(lambda t, i=i: t[i : i + rows], batch) for i in range(0, n, rows)]


def concat_to_numpy(outputs: list) -> Any:
    if not outputs:
        return np.zeros((0,), dtype=np.float32)
    first = outputs[0]
    if isinstance(first, dict):
        return {k: concat_to_numpy([o[k] for o in outputs]) for k in first}
    if isinstance(first, (list, tuple)):
        return [concat_to_numpy([o[i] for o in outputs]) for i in range(len(first))]
    out = torch.cat(outputs) if len(outputs) > 1 else first
    if out.dtype in (torch.bfloat16, torch.float16):
        out = out.float()
    return out.cpu().numpy()
