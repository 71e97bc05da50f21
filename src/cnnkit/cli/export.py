"""`cnnkit export MODEL --format onnx`: a deployable file, checked against PyTorch in onnxruntime."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.export import export_model
from cnnkit.export.onnx import DEFAULT_OPSET
from cnnkit.pipeline import load_classifier

EXAMPLES = """\
  cnnkit export runs/flowers/model.cnnkit --format onnx           writes runs/flowers/model.onnx
  cnnkit export runs/flowers --out flowers.onnx --opset 18

The ONNX model takes float32 images (batch, height, width, channels) with 0..255 pixels, any batch size.
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "export", parents, "export a model to ONNX", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a .cnnkit model file (or the run folder holding model.cnnkit)")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (onnx)")
    p.add_argument("--out", default=None, help="output file (default: the model's path with .onnx)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    return p


def check_onnx_installed() -> None:
    """Names the extra to install when onnx or onnxruntime is missing (a plain `pip install cnnkit` has neither)."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(
            f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed. "
            f"Expected the onnx extra. Received: --format {'onnx'}. Install it with: pip install 'cnnkit[onnx]'."
        )


def run(args: argparse.Namespace) -> int:
    check_onnx_installed()
    clf = load_classifier(args.model)
    out = args.out or str(clf.path.with_suffix(".onnx"))
    info = export_model(clf.model, out, format=args.format, input_shape=clf.input_shape, opset=args.opset)
    print(
        f"Exported {info.path} ({info.size_bytes / 1e6:.2f} MB, opset {info.opset}, input (batch, "
        f"{', '.join(map(str, info.input_shape))}) float32 0..255)."
    )
    print(
        f"Checked with onnxruntime at batch sizes {', '.join(map(str, info.batch_sizes))}: "
        f"max difference to PyTorch {info.max_abs_diff:.1e}."
    )
    return 0
