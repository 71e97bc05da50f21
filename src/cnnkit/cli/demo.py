"""`cnnkit demo`: train on Fashion-MNIST (as a folder of images) and write the run folder with its report."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.cli.train import print_result
from cnnkit.pipeline.demo import DEMO_DEFAULTS, run_demo

EXAMPLES = """\
  cnnkit demo                                  about two minutes on a 2-core CPU; open runs/demo/report.html
  cnnkit demo --images-per-class 300 --epochs 2 --out runs/quick
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "demo", parents, "train on Fashion-MNIST and write a report", __doc__, EXAMPLES)
    p.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    p.add_argument(
        "--images-per-class",
        type=int,
        default=DEMO_DEFAULTS["images_per_class"],
        help=f"training images per class (default {DEMO_DEFAULTS['images_per_class']}, 60000/10 at most)",
    )
    p.add_argument(
        "--epochs", type=int, default=DEMO_DEFAULTS["epochs"], help=f"most epochs (default {DEMO_DEFAULTS['epochs']})"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEMO_DEFAULTS["batch_size"],
        help=f"batch size ({DEMO_DEFAULTS['batch_size']})",
    )
    p.add_argument(
        "--model",
        default=DEMO_DEFAULTS["model"],
        help="'tutorial' (the default: the Keras tutorial's CNN) or a zoo name, e.g. ResNetXS",
    )
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=DEMO_DEFAULTS["augment"],
        help="augment training images (default: off, see the docs of run_demo)",
    )
    p.add_argument("--seed", type=int, default=1337, help="random seed")
    return p


def run(args: argparse.Namespace) -> int:
    if not 10 <= args.images_per_class <= 6000:
        raise ValueError(
            "--images-per-class is out of range. Expected 10 to 6000. "
            f"Received: --images-per-class {args.images_per_class}. Pass e.g. 1000."
        )
    started = time.perf_counter()
    result = run_demo(
        args.out,
        images_per_class=args.images_per_class,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        model=args.model,
        augment=args.augment,
    )
    print_result(result)
    print(f"Demo finished in {time.perf_counter() - started:.0f} s.")
    return 0
