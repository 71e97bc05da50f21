"""Predict throughput at 224x224 of zoo models: cnnkit (fp32 and mixed_bfloat16) vs plain PyTorch (torchvision's
definition of the same architecture, through the test shim) vs onnxruntime on cnnkit's exported ONNX file.

One process, one model at a time, the same random images for everyone. The four runners of a model take turns
(cnnkit fp32, cnnkit bf16, PyTorch, onnxruntime, then again, ``--repeats`` rounds) after one warm-up pass each, so
a change in the machine's load hits all of them alike; images/s is each runner's median. cnnkit runs
``model.predict`` (channels-last input, as Keras); PyTorch runs ``model(x)`` under ``torch.inference_mode()`` on NCHW
input, as a PyTorch user writes it; onnxruntime runs the file ``cnnkit.export.export_onnx`` writes, with its default
CPU provider. The ratios are cnnkit's images/s over the peer's (> 1: cnnkit is faster). The load average is printed
before and after: on a shared machine read the ratios, not the absolute numbers.

Usage:
    python bench/zoo_predict.py [--models MobileNetV2,MobileNetV3Large,EfficientNetB0,ResNet50] [--n 64]
                                [--batch 32] [--repeats 3] [--threads N] [--bf16-n N]
                                [--runners fp32,bf16,pt,ort]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the torchvision shim lives with the tests

import cnnkit.applications as applications  # noqa: E402
import cnnkit.mixed_precision as mixed_precision  # noqa: E402
from cnnkit.export.onnx import export_onnx  # noqa: E402
from support.tv_shim import import_torchvision  # noqa: E402

RATIOS = (("fp32", "pt"), ("bf16", "pt"), ("bf16", "ort"))
TORCHVISION = {"MobileNetV2": "mobilenet_v2", "MobileNetV3Large": "mobilenet_v3_large",
               "EfficientNetB0": "efficientnet_b0", "ResNet50": "resnet50"}  # fmt: skip


def _cnnkit(name: str, x: np.ndarray, batch: int, policy: str):
    mixed_precision.set_global_policy(policy)
    try:
        model = applications.get_model(name, weights=None)
    finally:
        mixed_precision.set_global_policy("float32")

    def run():
        mixed_precision.set_global_policy(policy)
        try:
            model.predict(x, batch_size=batch, verbose=0)
        finally:
            mixed_precision.set_global_policy("float32")

    return model, run


def _torch(name: str, x: np.ndarray, batch: int):
    tv = import_torchvision()
    model = getattr(tv.models, TORCHVISION[name])().eval()
    nchw = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()

    def run():
        with torch.inference_mode():
            for i in range(0, len(nchw), batch):
                model(nchw[i : i + batch])

    return run


def _onnxruntime(model, x: np.ndarray, batch: int, folder: str):
    import onnxruntime as ort

    path = os.path.join(folder, f"{model.name}.onnx")
    export_onnx(model, path, input_shape=x.shape[1:])
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def run():
        for i in range(0, len(x), batch):
            session.run(None, {"input": x[i : i + batch]})

    return run


def _alternating(runners: dict, counts: dict[str, int], repeats: int) -> dict[str, float]:
    """images/s per runner: one warm-up each (oneDNN primitives, allocator growth), then rounds in turn; medians."""
    for run in runners.values():
        run()
    times: dict[str, list[float]] = {key: [] for key in runners}
    for _ in range(repeats):
        for key, run in runners.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {key: counts[key] / statistics.median(t) for key, t in times.items()}


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(TORCHVISION))
    parser.add_argument("--n", type=int, default=64, help="images per timed pass")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--runners", default="fp32,bf16,pt,ort", help="which to run (cnnkit fp32 always runs)")
    parser.add_argument("--bf16-n", type=int, default=None, help="images per bf16 pass (default: --n; emulated "
                        "bf16 is slow, fewer images keep a run short)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).uniform(0, 255, (args.n, 224, 224, 3)).astype("float32")
    native = mixed_precision.native_bf16_cpu()
    args.bf16_n = args.bf16_n or args.n
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.n} images 224x224 ({args.bf16_n} "
          f"for bf16), batch {args.batch}, {args.repeats} alternating rounds; load average {_load()} (1, 5, 15 "
          f"min)")  # fmt: skip
    if not native:
        print("This CPU has no native bfloat16 (AVX512-BF16 / AMX): bf16 is emulated, so 'cnnkit bf16' measures "
              "the emulation, not what mixed_bfloat16 gives on a CPU that has it.")  # fmt: skip
    header = ("model", "cnnkit fp32", "cnnkit bf16", "PyTorch", "onnxruntime", "fp32/PT", "bf16/PT", "bf16/ORT")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    wanted = set(args.runners.split(","))
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            model, fp32 = _cnnkit(name, x, args.batch, "float32")
            runners = {"fp32": fp32}
            if "bf16" in wanted:
                runners["bf16"] = _cnnkit(name, x[: args.bf16_n], args.batch, "mixed_bfloat16")[1]
            if "pt" in wanted:
                runners["pt"] = _torch(name, x, args.batch)
            if "ort" in wanted:
                runners["ort"] = _onnxruntime(model, x, args.batch, folder)
            counts = {key: args.bf16_n if key == "bf16" else len(x) for key in runners}
            r = _alternating(runners, counts, args.repeats)
            cells = [f"{r[k]:.1f}" if k in r else "-" for k in ("fp32", "bf16", "pt", "ort")]
            ratios = [f"{r[a] / r[b]:.2f}x" if a in r and b in r else "-" for a, b in RATIOS]
            print("| " + " | ".join((name, *cells, *ratios)) + " |", flush=True)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
