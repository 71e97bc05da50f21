"""Image-folder throughput: cnnkit's image_dataset_from_directory vs a torch DataLoader over a PIL folder dataset.

(a) first read: decode + resize 5,000 JPEGs to 64x64 once (cnnkit: parallel decode into its uint8 store; DataLoader:
    one epoch, 2 workers); (a') the same with jpeg_draft=True (DCT-scaled JPEG decode; pixels differ slightly);
(b) steady state: one epoch of 64x64 batches with augmentation (RandomFlip + RandomRotation as batched ops on the
    batch in both cases), images per second delivered to the model; (b') the same dataset with
    ``.prefetch(AUTOTUNE)`` as Keras' tutorial writes it (batches prepared in two threads, as the DataLoader has two
    workers).

Run: python bench/data_throughput.py [--n 5000] [--repeats 3] [--photo 320x240] [--dir /tmp/cnnkit-bench-jpegs]
Prints medians and ratios (cnnkit / DataLoader in images per second, higher is better for cnnkit).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cnnkit.layers.preprocessing.image import RandomFlip, RandomRotation
from cnnkit.utils import image_dataset_from_directory  # noqa: E402

SIZE = (64, 64)
BATCH = 32


def make_jpegs(root: Path, n: int, width: int, height: int, classes: int = 5) -> None:
    """Photo-like JPEGs (smooth gradients, shapes and grain), quality 90, of random sizes in
    [height - height/6, height + height/6) x [width - width/8, width + width/8)."""
    marker = root / f".complete-{n}"
    if marker.exists():
        return
    rng = np.random.default_rng(0)
    print(f"Writing {n} JPEGs to {root} (once) ...", flush=True)
    for i in range(n):
        h = int(rng.integers(height - height // 6, height + height // 6))
        w = int(rng.integers(width - width // 8, width + width // 8))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = rng.uniform(0, 255, 3)
        img = base + 60 * np.sin(xx[..., None] / rng.uniform(10, 40) + rng.uniform(0, 6, 3))
        img += 40 * np.cos(yy[..., None] / rng.uniform(10, 40))
        img += rng.normal(0, 8, (h, w, 3))
        cls = root / f"class_{i % classes}"
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(cls / f"{i:05d}.jpg", quality=90)
    marker.touch()


class PILFolder(torch.utils.data.Dataset):
    """The usual PIL folder dataset: open, convert to RGB, resize, to a uint8 tensor (as torchvision's
    ImageFolder + Resize + PILToTensor would, without torchvision)."""

    def __init__(self, root: Path) -> None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.items = [(str(f), c) for c, name in enumerate(classes) for f in sorted((root / name).iterdir())]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        path, label = self.items[i]
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB").resize((SIZE[1], SIZE[0]), Image.Resampling.BILINEAR))
        return torch.from_numpy(arr.copy()), label


def augment(images: torch.Tensor, flip: RandomFlip, rot: RandomRotation) -> torch.Tensor:
    return rot(flip(images, training=True), training=True)


def dataloader_epoch(ds: PILFolder, aug: bool, flip: RandomFlip, rot: RandomRotation) -> int:
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=2)
    n = 0
    for x, _ in loader:
        x = x.float()
        if aug:
            x = augment(x, flip, rot)
        n += x.shape[0]
    return n


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/cnnkit-bench-jpegs")
    parser.add_argument("--photo", default="320x240", help="typical source size, WxH (500x375: ImageNet's average)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.photo.lower().split("x"))
    root = Path(args.dir) / (str(args.n) if args.photo == "320x240" else f"{args.n}-{args.photo}-v2")
    make_jpegs(root, args.n, width, height)
    # One intra-op thread on both sides: DataLoader workers use one each, and on a shared 2-core machine a
    # second thread only spins; augmentation runs in the main process in both pipelines.
    torch.set_num_threads(1)
    flip, rot = RandomFlip("horizontal", seed=0), RandomRotation(0.05, seed=0)
    print(f"{args.n} JPEGs of about {args.photo}, resize to {SIZE}, batch {BATCH}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}")  # fmt: skip

    def cnnkit_load(**kw):
        return image_dataset_from_directory(root, image_size=SIZE, batch_size=BATCH, seed=1, verbose=False, **kw)

    # Runs alternate (ours, theirs, ours, ...) so that a change in machine load hits both sides alike.
    pil = PILFolder(root)
    ours_a, draft_a, theirs_a = [], [], []
    for _ in range(args.repeats):  # (a) first read
        ours_a.append(timed(cnnkit_load))
        theirs_a.append(timed(lambda: dataloader_epoch(pil, False, flip, rot)))
        draft_a.append(timed(lambda: cnnkit_load(jpeg_draft=True)))

    ds = cnnkit_load(augment=[flip, rot])  # (b) steady-state epochs with augmentation

    def ours_epoch(epoch: int) -> None:
        for _ in ds.iterate(epoch):
            pass

    autotune = ds.prefetch(-1)  # tf.data.AUTOTUNE is -1

    def autotune_epoch(epoch: int) -> None:
        for _ in autotune.iterate(epoch):
            pass

    ours_b, auto_b, theirs_b = [], [], []
    for epoch in range(args.repeats):
        ours_b.append(timed(lambda e=epoch: ours_epoch(e)))
        theirs_b.append(timed(lambda: dataloader_epoch(pil, True, flip, rot)))
        auto_b.append(timed(lambda e=epoch: autotune_epoch(e)))

    def report(label: str, ours: list[float], theirs: list[float]) -> None:
        mo, mt = statistics.median(ours), statistics.median(theirs)
        print(
            f"{label}: cnnkit {mo:.2f} s ({args.n / mo:,.0f} img/s) | DataLoader(2 workers) {mt:.2f} s "
            f"({args.n / mt:,.0f} img/s) | ratio {mt / mo:.2f}x"
        )

    report("(a) first read, decode+resize", ours_a, theirs_a)
    report("(a') first read, jpeg_draft=True", draft_a, theirs_a)
    report("(b) steady-state epoch + augmentation", ours_b, theirs_b)
    report("(b') the same, .prefetch(AUTOTUNE)", auto_b, theirs_b)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
