"""Time to accuracy on Fashion-MNIST: `cnnkit train --budget` vs Keras 3 (torch backend) vs a plain-PyTorch recipe.

The 60,000 training images are written once as a PNG folder (``cnnkit.datasets.fashion_mnist`` + ``to_folder``);
every contender starts from that folder, so the wall time includes decoding the PNGs, and is tested on the 10,000
test images. For each budget (default 1, 2.5 and 5 minutes):

* ``cnnkit``: ``cnnkit train TRAIN --budget B`` in a subprocess (its wall time: start-up, decode, planning, training,
  final evaluation and report), then ``cnnkit evaluate`` on the test folder (flip TTA, as the CLI does by default).
* ``keras``: the Keras tutorial CNN (Conv32-Pool-Conv64-Pool-Dense128-Dense10), Adam 1e-3, batch 64, trained until
  the budget is spent (PNG decoding counted). With ``--tf-python PY`` it runs in that interpreter on TensorFlow
  (tf.keras: Keras 3 with the TensorFlow backend, as ``pip install tensorflow`` ships it); without, on Keras 3 with
  the torch backend.
* ``torch``: a plain-PyTorch script of the recipe (the ResNetS architecture, channels-last, SGD-Nesterov with
  one-cycle, label smoothing 0.1, flips and 2-pixel shifts, flip TTA, bf16 autocast where the CPU has native bf16),
  batches fitted to the budget from the speed of its first steps (the last epoch may end early, with the schedule
  annealed there), with a deadline.

Usage:
    python bench/time_to_accuracy.py [--budgets 1,2.5,5] [--only cnnkit,keras,torch] [--work /tmp/tta_bench]
        [--tf-python /work/tfvenv/bin/python]

Prints one row per contender and budget: wall seconds and test accuracy, and the ratio of cnnkit's accuracy to each
peer's. Run it on a quiet machine: the figures move with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(work: Path) -> tuple[Path, Path]:
    from cnnkit.datasets import fashion_mnist, to_folder
    from cnnkit.datasets.fashion_mnist import CLASS_NAMES

    train, test = work / "train", work / "test"
    (x, y), (xt, yt) = fashion_mnist.load_data()
    for folder, xs, ys in ((train, x, y), (test, xt, yt)):
        done = folder / ".complete"
        if not done.is_file():
            start = time.perf_counter()
            to_folder(xs, ys, folder, class_names=CLASS_NAMES, verbose=False)
            done.write_text("ok")
            print(f"wrote {len(xs)} PNGs to {folder} in {time.perf_counter() - start:.0f} s", flush=True)
    return train, test


def run_cnnkit(train: Path, test: Path, budget_s: float, work: Path) -> dict:
    out = work / f"cnnkit_{budget_s:g}s"
    shutil.rmtree(out, ignore_errors=True)  # a fresh run, not a resume of the last one
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "cnnkit.cli", "train", str(train), "--out", str(out), "--budget", f"{budget_s:g}s"]
    cmd += ["--validation-split", "0.05"]  # a small hold-out: validation each epoch and the report stay cheap
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    plan = next((line for line in proc.stdout.splitlines() if line.startswith("Plan: ")), "?")
    ev = subprocess.run(
        [sys.executable, "-m", "cnnkit.cli", "evaluate", str(out), str(test), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    acc = json.loads(ev.stdout)["accuracy"] if ev.returncode == 0 else float("nan")
    return {"wall_s": wall, "accuracy": acc, "note": plan}


def _load_folder(folder: Path):
    """Decodes a class-folder of PNGs into uint8 arrays (what the peers pay for reading the same files)."""
    import numpy as np
    from PIL import Image

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    xs, ys = [], []
    for i, c in enumerate(classes):
        for f in sorted((folder / c).iterdir()):
            with Image.open(f) as im:
                xs.append(np.asarray(im.convert("L")))
            ys.append(i)
    return np.stack(xs)[..., None], np.asarray(ys, np.int64)


KERAS_PEER = r"""
import sys, time, json
start = time.perf_counter()
sys.path.insert(0, {bench!r})
from time_to_accuracy import _load_folder
from pathlib import Path
import numpy as np, keras
budget = {budget}
x, y = _load_folder(Path({train!r})); x = x.astype("float32") / 255.0
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(), keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
    keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
class Stop(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - start > budget: self.model.stop_training = True
model.fit(x, y, batch_size=64, epochs=1000, callbacks=[Stop()], verbose=0)
wall = time.perf_counter() - start
xt, yt = _load_folder(Path({test!r}))
acc = float((model.predict(xt.astype("float32") / 255.0, verbose=0).argmax(1) == yt).mean())
print(json.dumps({{"wall_s": wall, "accuracy": acc}}))
"""

TORCH_PEER = r"""
import sys, time, json, math
start = time.perf_counter()
sys.path.insert(0, {bench!r})
from time_to_accuracy import _load_folder
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
budget = {budget}
torch.manual_seed(0)
x, y = _load_folder(Path({train!r}))
x = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255).contiguous(memory_format=torch.channels_last)
y = torch.from_numpy(y)
def cbr(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
class Res(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.a, s.b = cbr(c, c), nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
    def forward(s, x): return F.relu(x + s.b(s.a(x)))
net = nn.Sequential(cbr(1, 24), cbr(24, 32), nn.MaxPool2d(2), Res(32), cbr(32, 64), nn.MaxPool2d(2), Res(64),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)).to(memory_format=torch.channels_last)
bs = 64
# bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 or AMX), as the recipe says; float32 elsewhere.
bf16 = bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
def fwd(b):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return net(b).float()
def augment(b):
    flip = torch.rand(b.shape[0]) < 0.5
    b = torch.where(flip[:, None, None, None], b.flip(3), b)
    dx, dy = np.random.randint(-2, 3, 2)
    return torch.roll(F.pad(b, (2, 2, 2, 2)), (int(dy), int(dx)), (2, 3))[:, :, 2:-2, 2:-2]
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
steps_per_epoch = math.ceil(len(x) / bs)
# Speed from 20 steps after 5 untimed ones (kernels built), then as many batches as the budget holds (keeping 15 s
# for the test pass).
net.train()
for i in range(25):
    if i == 5:
        t = time.perf_counter()
    idx = torch.randint(0, len(x), (bs,))
    loss = F.cross_entropy(fwd(augment(x[idx])), y[idx], label_smoothing=0.1)
    opt.zero_grad(); loss.backward(); opt.step()
step_s = (time.perf_counter() - t) / 20
left = budget - (time.perf_counter() - start) - 15
total = max(1, int(left / step_s))  # whole batches: the last epoch may end early, annealed there
epochs = math.ceil(total / steps_per_epoch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, pct_start=0.25)
done = 0
for epoch in range(epochs):
    perm = torch.randperm(len(x))
    for b in range(steps_per_epoch):
        if done >= total or time.perf_counter() - start > budget - 15: break
        idx = perm[b * bs:(b + 1) * bs]
        loss = F.cross_entropy(fwd(augment(x[idx])), y[idx], label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); done += 1
net.eval()
xt, yt = _load_folder(Path({test!r}))
xt = torch.from_numpy(xt).permute(0, 3, 1, 2).float().div(255).contiguous(memory_format=torch.channels_last)
with torch.no_grad():
    chunks = [xt[i:i + 512] for i in range(0, len(xt), 512)]
    p = torch.cat([F.softmax(fwd(c), 1) + F.softmax(fwd(c.flip(3)), 1) for c in chunks])
wall = time.perf_counter() - start
acc = float((p.argmax(1) == torch.from_numpy(yt)).float().mean())
note = f"{{total / steps_per_epoch:.1f}} epochs planned, {{done}} steps run{{', bf16' if bf16 else ''}}"
print(json.dumps({{"wall_s": wall, "accuracy": acc, "note": note}}))
"""


def run_peer(template: str, train: Path, test: Path, budget_s: float, python: str | None = None) -> dict:
    """One peer in a subprocess: ``python`` (a TensorFlow interpreter) runs it on TensorFlow, else torch."""
    code = template.format(bench=str(Path(__file__).parent), budget=budget_s, train=str(train), test=str(test))
    backend = "tensorflow" if python else "torch"
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT / "src"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([python or sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="1,2.5,5", help="minutes, comma-separated")
    parser.add_argument("--only", default="cnnkit,keras,torch", help="contenders to run")
    parser.add_argument("--work", default="/tmp/cnnkit_time_to_accuracy", help="where the PNG folders and runs go")
    parser.add_argument("--tf-python", help="a Python with TensorFlow: the Keras peer runs there as tf.keras")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train, test = prepare(work)
    only = args.only.split(",")
    rows = []
    for minutes in (float(m) for m in args.budgets.split(",")):
        budget = minutes * 60
        results = {}
        for name in only:
            print(f"running {name} at {minutes:g} min ...", flush=True)
            if name == "cnnkit":
                results[name] = run_cnnkit(train, test, budget, work)
            elif name == "keras":
                results[name] = run_peer(KERAS_PEER, train, test, budget, args.tf_python)
            else:
                results[name] = run_peer(TORCH_PEER, train, test, budget)
            print(f"  {results[name]}", flush=True)
        rows.append((minutes, results))
    print(f"\n{'budget':>7}  {'contender':<22} {'wall s':>7} {'test acc':>9}  note")
    keras_label = "tf.keras tutorial CNN" if args.tf_python else "Keras 3 (torch) CNN"
    label = {"cnnkit": "cnnkit train --budget", "keras": keras_label, "torch": "plain PyTorch recipe"}
    for minutes, results in rows:
        for name, r in results.items():
            if "error" in r:
                print(f"{minutes:>6g}m  {label[name]:<22} error: {r['error'].splitlines()[-1] if r['error'] else '?'}")
                continue
            print(f"{minutes:>6g}m  {label[name]:<22} {r['wall_s']:>7.1f} {r['accuracy']:>9.4f}  {r.get('note', '')}")
        ck = results.get("cnnkit", {}).get("accuracy")
        for name in ("keras", "torch"):
            other = results.get(name, {}).get("accuracy")
            if ck and other:
                print(f"{'':>9}cnnkit / {label[name]}: accuracy ratio {ck / other:.3f}")


if __name__ == "__main__":
    main()
