"""Training and predict throughput of the tutorial CNN: cnnkit vs hand-written PyTorch vs Keras 3 (torch) vs tf.keras.

Each framework runs in its own subprocess, one after the other, in one run: 4,096 random 64x64x3 images, batch 32,
Adam + binary crossentropy + accuracy; images/s is the median of the measured epochs after a warm-up epoch. Predict
runs at batch 256 (median of 3 passes after a warm-up). tf.keras runs when ``import tensorflow`` works in
``--tf-python`` (default: this interpreter); otherwise it is reported as skipped.

With ``--rounds R`` the frameworks run R times in turn (cnnkit, torch, ..., cnnkit, torch, ...), so that a change in
the load of a shared machine hits each of them alike; each framework's figure is then the median over the rounds.

Usage:
    python bench/train_throughput.py [--epochs 3] [--rounds 3] [--threads 1] [--tf-python /work/tfvenv/bin/python]
        [--only cnnkit,torch]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

N, SIZE, BATCH, PREDICT_BATCH = 4096, 64, 32, 256
FRAMEWORKS = ["cnnkit", "cnnkit_bf16", "torch", "keras_torch", "tf_keras"]
LABELS = {
    "cnnkit": "cnnkit (fp32)",
    "cnnkit_bf16": "cnnkit (mixed_bfloat16)",
    "torch": "hand-written PyTorch",
    "keras_torch": "Keras 3 on torch",
    "tf_keras": "tf.keras (TensorFlow CPU)",
}


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((N, SIZE, SIZE, 3), dtype=np.float32)
    y = rng.integers(0, 2, (N, 1)).astype("float32")
    return x, y


def _predict_ips(predict, x) -> float:
    predict(x[:PREDICT_BATCH])  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return N / statistics.median(times)


def _keras_like(layers_mod, models_mod, epochs, x, y, timing_cb_base, **compile_kwargs):
    """The tutorial model and fit with per-epoch timing, for cnnkit, Keras 3 and tf.keras (same API)."""
    model = models_mod.Sequential(
        [
            layers_mod.Input((SIZE, SIZE, 3)),
            layers_mod.Conv2D(32, (3, 3), activation="relu"),
            layers_mod.MaxPooling2D(pool_size=(2, 2)),
            layers_mod.Conv2D(64, (3, 3), activation="relu"),
            layers_mod.MaxPooling2D(pool_size=(2, 2)),
            layers_mod.Flatten(),
            layers_mod.Dense(128, activation="relu"),
            layers_mod.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], **compile_kwargs)

    class Timer(timing_cb_base):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    times: list[float] = []
    model.fit(x, y, batch_size=BATCH, epochs=epochs + 1, verbose=0, callbacks=[Timer()])
    train = N / statistics.median(times[1:])
    return train, _predict_ips(lambda a: model.predict(a, batch_size=PREDICT_BATCH, verbose=0), x)


def run_cnnkit(epochs: int, bf16: bool = False):
    import cnnkit.mixed_precision
    from cnnkit import callbacks, layers, models

    if bf16:
        cnnkit.mixed_precision.set_global_policy("mixed_bfloat16")
    x, y = _data()
    return _keras_like(layers, models, epochs, x, y, callbacks.Callback)


def run_keras_torch(epochs: int):
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    x, y = _data()
    return _keras_like(keras.layers, keras.models, epochs, x, y, keras.callbacks.Callback)


def run_tf_keras(epochs: int):
    import tensorflow as tf

    x, y = _data()
    return _keras_like(tf.keras.layers, tf.keras.models, epochs, x, y, tf.keras.callbacks.Callback)


def run_torch(epochs: int):
    """What a strong engineer writes by hand: channels_last, Adam, BCEWithLogits, on-device accuracy, no syncs."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    x_np, y_np = _data()
    x = torch.from_numpy(x_np).permute(0, 3, 1, 2)  # NCHW view of NHWC memory: channels_last, no copy
    y = torch.from_numpy(y_np)
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 14 * 14, 128),
        nn.ReLU(),
        nn.Linear(128, 1),
    ).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        perm = torch.randperm(N)
        correct = torch.zeros(())
        for i in range(0, N, BATCH):
            idx = perm[i : i + BATCH]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            logits = net(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += ((logits.detach() > 0).float() == yb).sum()
        float(correct)  # one sync per epoch
        times.append(time.perf_counter() - start)

    def predict(a):
        out = []
        with torch.inference_mode():
            t = torch.from_numpy(a).permute(0, 3, 1, 2)
            for i in range(0, len(t), PREDICT_BATCH):
                out.append(torch.sigmoid(net(t[i : i + PREDICT_BATCH])))
        return torch.cat(out).numpy()

    net.eval()
    return N / statistics.median(times[1:]), _predict_ips(predict, x_np)


def worker(name: str, epochs: int, threads: int | None) -> None:
    if threads:
        if name == "tf_keras":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        else:
            import torch

            torch.set_num_threads(threads)
    fn = {
        "cnnkit": run_cnnkit,
        "cnnkit_bf16": lambda e: run_cnnkit(e, bf16=True),
        "torch": run_torch,
        "keras_torch": run_keras_torch,
        "tf_keras": run_tf_keras,
    }[name]
    train, predict = fn(epochs)
    print("RESULT " + json.dumps({"train": train, "predict": predict}), flush=True)


def main() -> None:
    global N
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="measured epochs after one warm-up epoch")
    parser.add_argument("--tf-python", default=os.environ.get("CNNKIT_BENCH_TF_PYTHON", sys.executable))
    parser.add_argument("--only", default=",".join(FRAMEWORKS), help="comma-separated subset of " + str(FRAMEWORKS))
    parser.add_argument("--images", type=int, default=N, help="number of random images (default 4096)")
    parser.add_argument("--threads", type=int, help="intra-op threads for every framework (default: each one's own)")
    parser.add_argument("--rounds", type=int, default=1, help="run the frameworks this many times in turn; medians")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    N = args.images
    if args.worker:
        return worker(args.worker, args.epochs, args.threads)

    here = Path(__file__).resolve()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(here.parent.parent / "src"), os.environ.get("PYTHONPATH", "")]),
        "KERAS_BACKEND": "torch",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    runs: dict[str, list[dict]] = {}
    print(
        f"{N} images {SIZE}x{SIZE}x3, batch {BATCH} (predict {PREDICT_BATCH}), median of {args.epochs} epochs "
        f"after a warm-up, {os.cpu_count()} CPUs, threads: {args.threads or 'default'}, rounds: {args.rounds}, "
        f"load average before: {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    names = list(dict.fromkeys(args.only.split(",")))
    for name in [n for _ in range(max(1, args.rounds)) for n in names]:
        python = args.tf_python if name == "tf_keras" else sys.executable
        if name == "tf_keras":
            probe = subprocess.run(
                [python, "-c", "import tensorflow"], capture_output=True, env={**env, "KERAS_BACKEND": "tensorflow"}
            )
            if probe.returncode != 0:
                print(f"{LABELS[name]:28s} skipped: `import tensorflow` fails in {python}", flush=True)
                continue
        start = time.perf_counter()
        worker_env = {**env, "KERAS_BACKEND": "tensorflow" if name == "tf_keras" else "torch"}
        proc = subprocess.run(
            [python, str(here), "--worker", name, "--epochs", str(args.epochs), "--images", str(args.images)]
            + (["--threads", str(args.threads)] if args.threads else []),
            capture_output=True,
            text=True,
            env=worker_env,
        )
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            print(f"{LABELS[name]:28s} failed:\n{proc.stderr[-2000:]}", flush=True)
            continue
        r = json.loads(line[7:])
        runs.setdefault(name, []).append(r)
        print(
            f"{LABELS[name]:28s} train {r['train']:7.0f} img/s   predict {r['predict']:7.0f} img/s   "
            f"({time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    results = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("train", "predict")} for name, rs in runs.items()
    }
    if args.rounds > 1:
        print(f"\nmedians over {args.rounds} rounds:")
        for name, r in results.items():
            print(f"  {LABELS[name]:28s} train {r['train']:7.0f} img/s   predict {r['predict']:7.0f} img/s")
    for base in ("tf_keras", "torch"):
        if base not in results:
            continue
        print(f"\nratios vs {LABELS[base]}:")
        for name, r in results.items():
            if name != base:
                print(
                    f"  {LABELS[name]:28s} train {r['train'] / results[base]['train']:5.2f}x   "
                    f"predict {r['predict'] / results[base]['predict']:5.2f}x"
                )


if __name__ == "__main__":
    main()
