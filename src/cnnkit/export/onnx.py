"""Export a model to ONNX, checked with onnxruntime against PyTorch before the file is put in place."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnkit.common.files import atomic_path

__all__ = ["DEFAULT_OPSET", "OnnxExport", "export_model", "export_onnx", "model_input_shape"]

DEFAULT_OPSET = 17


@dataclass
class OnnxExport:
    """What :func:`export_onnx` wrote and how closely onnxruntime reproduced PyTorch."""

    path: str
    input_shape: tuple[int, ...]  # without the batch axis, channels-last
    opset: int
    max_abs_diff: float
    batch_sizes: tuple[int, ...]
    size_bytes: int


class _Inference(torch.nn.Module):
    """Calls the model in inference mode with a single positional input, as the exporter traces it."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            out = self.model(x, training=False)
        except TypeError:  # a plain torch module
            out = self.model(x)
        if isinstance(out, (list, tuple)):
            out = out[0]
        return out


def model_input_shape(model: torch.nn.Module) -> tuple[int, ...] | None:
    """The model's input shape without the batch axis, e.g. ``(64, 64, 3)``, when the model knows it."""
    for attr in ("input_shape", "_build_input_shape", "batch_input_shape"):
        shape = getattr(model, attr, None)
        if callable(shape):
            continue
        if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        if isinstance(shape, (tuple, list)) and len(shape) >= 2 and all(s is None or isinstance(s, int) for s in shape):
            dims = tuple(shape[1:])
            if all(isinstance(s, int) for s in dims):
                return dims
    inputs = getattr(model, "inputs", None)
    if isinstance(inputs, (list, tuple)) and inputs:
        shape = getattr(inputs[0], "shape", None)
        if shape is not None and len(shape) >= 2 and all(isinstance(s, int) for s in tuple(shape)[1:]):
            return tuple(shape)[1:]
    return None


def export_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike,
    input_shape: tuple[int, ...] | None = None,
    opset: int = DEFAULT_OPSET,
    check_batch_sizes: tuple[int, ...] = (1, 3),
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> OnnxExport:
    """Writes ``model`` to ``path`` as one ONNX file with a dynamic batch axis, after checking it in onnxruntime.

    The input is named ``input`` (float32, ``(batch, *input_shape)``, channels-last as the model takes it) and the
    output ``output``. The file is first written next to ``path``, run in onnxruntime at every batch size of
    ``check_batch_sizes`` and compared with PyTorch; only then is it moved into place, so a failed export never
    leaves a half-written or wrong file behind.

    Args:
        model: a cnnkit model (built) or a torch module taking channels-last images.
        path: where to write the ``.onnx`` file.
        input_shape: the input shape without the batch axis, e.g. ``(64, 64, 3)``; defaults to the model's.
        opset: the ONNX opset version.
        check_batch_sizes: batch sizes run in onnxruntime (two or more also check that the batch axis is dynamic).
        atol, rtol: the tolerance of the comparison with PyTorch (float32 kernels differ in summation order).

    Returns:
        An :class:`OnnxExport` with the path and the largest absolute difference seen.

    Example:
        >>> import tempfile, cnnkit
        >>> model = cnnkit.Sequential([cnnkit.Input((8, 8, 1)), cnnkit.layers.Flatten(), cnnkit.layers.Dense(2)])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     info = export_onnx(model, os.path.join(folder, "model.onnx"))
        >>> info.input_shape, info.batch_sizes
        ((8, 8, 1), (1, 3))
    """
    import onnx
    import onnxruntime as ort

    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"export_onnx() needs a model. Expected a cnnkit model or torch.nn.Module. "
            f"Received: model={type(model).__name__}. Load one with cnnkit.models.load_model(path)."
        )
    shape = tuple(input_shape) if input_shape is not None else model_input_shape(model)
    if shape is None or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(
            "The input shape of the model is unknown. Expected input_shape=(height, width, channels). "
            f"Received: input_shape={input_shape}. Pass input_shape=..., e.g. (64, 64, 3)."
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    training = [(m, m.training) for m in model.modules()]
    wrapper = _Inference(model).eval()
    gen = torch.Generator().manual_seed(0)
    example = torch.rand((2, *shape), generator=gen) * 255.0
    try:
        with atomic_path(path) as tmp_path:  # checked from the temporary file; renamed only if it passes
            tmp = str(tmp_path)  # onnxruntime takes a str
            # Traced with autograd on: layers take their plain (exportable) path, not fused inference-only CPU kernels.
            with torch.enable_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # The TorchScript exporter needs no extra package (the torch.export one needs onnxscript) and writes
                # one self-contained file for models under 2 GB.
                torch.onnx.export(
                    wrapper,
                    (example,),
                    tmp,
                    dynamo=False,
                    input_names=["input"],
                    output_names=["output"],
                    dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                    opset_version=opset,
                    do_constant_folding=True,
                )
            proto = onnx.load(tmp, load_external_data=False)
            external = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
            if external:
                raise ValueError(
                    "The ONNX file would need external data files. Expected a model under 2 GB. "
                    f"Received: {len(external)} external tensors. Export a smaller model."
                )
            onnx.checker.check_model(proto)
            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
            session = ort.InferenceSession(tmp, options, providers=["CPUExecutionProvider"])
            worst = 0.0
            for n in check_batch_sizes:
                x = torch.rand((n, *shape), generator=gen) * 255.0
                with torch.no_grad():
                    expected = wrapper(x).detach().cpu().numpy()
                got = session.run(["output"], {"input": x.numpy()})[0]
                if got.shape != expected.shape or not np.allclose(got, expected, atol=atol, rtol=rtol):
                    diff = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
                    raise ValueError(
                        "The ONNX model does not reproduce PyTorch. Expected outputs within "
                        f"atol={atol}, rtol={rtol}. Received: max abs difference {diff:.3g} at batch size {n} "
                        f"(shapes {got.shape} vs {expected.shape}). Try another opset=..."
                    )
                worst = max(worst, float(np.abs(got - expected).max()))
    finally:
        for m, mode in training:
            m.training = mode
    return OnnxExport(
        path=str(path),
        input_shape=shape,
        opset=opset,
        max_abs_diff=worst,
        batch_sizes=tuple(check_batch_sizes),
        size_bytes=path.stat().st_size,
    )


def export_model(model: Any, path: str | os.PathLike, format: str = "onnx", **kwargs: Any) -> OnnxExport:  # noqa: A002
    """What ``Model.export(path, format='onnx')`` calls: dispatches on ``format`` (only ``'onnx'`` for now)."""
    if format != "onnx":
        raise ValueError(
            f"Unsupported export format. Expected format='onnx'. Received: format={format!r}. Use format='onnx'."
        )
    return export_onnx(model, path, **kwargs)
