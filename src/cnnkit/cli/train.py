"""`cnnkit train DATA_DIR`: train a classifier on a folder of class sub-folders."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from cnnkit.cli._format import command_parser, table
from cnnkit.distribution import is_chief, launch_local, launched
from cnnkit.pipeline import TrainConfig, train_from_directory
from cnnkit.pipeline.budget import parse_budget, process_elapsed, train_with_budget
from cnnkit.pipeline.recipe import PRECISIONS

EXAMPLES = """\
  cnnkit train data/flowers                         model and image size chosen from the data
  cnnkit train data/flowers --out runs/flowers --epochs 20 --model ResNet20
  cnnkit train data/parts --model tutorial --image-size 64 --no-augment --lr 3e-4
  cnnkit train data/flowers --budget 5m             the best model 5 minutes can train (says the plan first)
  cnnkit train data/flowers --lr auto               learning rate from the range test (see `cnnkit lr-find`)
  cnnkit train data/flowers --out runs/flowers      run again after a crash: it resumes from the last epoch
  cnnkit train data/flowers --nproc 2               data-parallel on 2 local processes (DDP; see docs/distributed.md)

DATA_DIR holds one sub-folder of images per class (DATA_DIR/cat/*.jpg, DATA_DIR/dog/*.jpg, ...).
The run folder gets model.cnnkit, history.csv, metrics.json, class_names.json and report.html.
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "train", parents, "train a classifier on a folder of images", __doc__, EXAMPLES)
    add_train_options(p)
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of images per class")
    p.add_argument("--out", default=None, help="run folder (default: runs/<name of DATA_DIR>)")
    p.add_argument("--nproc", type=int, default=1, help="train data-parallel on N local processes (default 1)")
    p.add_argument(
        "--budget",
        default=None,
        metavar="TIME",
        help="train the best model that fits in TIME (5m, 90s, 1h): model, image size and epochs are chosen from "
        "measured speed, the whole run (report included) ends within it",
    )
    return p


def add_train_options(p: argparse.ArgumentParser, epochs: int = 10) -> None:
    p.add_argument("--model", default=None, help="'tutorial' or a zoo name (see `cnnkit zoo`); default: from the data")
    p.add_argument("--pretrained", action="store_true", help="start from the zoo model's pretrained weights")
    p.add_argument("--epochs", type=int, default=epochs, help=f"most epochs (early stopping; default {epochs})")
    p.add_argument(
        "--batch-size", type=int, default=None, help="images per batch (default: 128 for ResNetXS/S/M, 32 otherwise)"
    )
    p.add_argument("--image-size", type=int, default=None, help="train at SIZE x SIZE pixels (default: from the data)")
    p.add_argument("--validation-split", type=float, default=0.2, help="fraction held out for validation (0.2)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True, help="augment training images")
    p.add_argument(
        "--lr",
        type=lr_value,
        default=None,
        help="learning rate (peak of the one-cycle schedule for ResNetS/M), or 'auto' for the range test's pick "
        "(default: 1e-3 with Adam, 0.1 for ResNetS/M)",
    )
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="flip test-time augmentation in the final evaluation and the report (default on)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="float32, or mixed_bfloat16 (bf16 compute, float32 weights); auto: mixed_bfloat16 for the fast "
        "ResNets where this CPU measures it faster (native bf16: AVX512-BF16 or AMX), else float32",
    )
    p.add_argument("--seed", type=int, default=1337, help="random seed for the split, shuffling and weights")
    p.add_argument("--patience", type=int, default=3, help="early stopping: epochs without improvement (3)")


def lr_value(text: str) -> float | str:
    """``--lr``: a number or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


# Upper bounds a user can reach by a typo (an extra zero) but no real run needs; checked before any data is read.
MAX_IMAGE_SIZE = 2048
MAX_BATCH_SIZE = 65536


def _lr_ok(lr: float | str | None) -> bool:
    return lr is None or lr == "auto" or (math.isfinite(lr) and 0 < lr <= 10)


def check_train_options(args: argparse.Namespace) -> None:
    """Every range checked before any work, so a typo exits 2 with a message instead of a MemoryError or NaN."""
    for name, value, ok, expected in (
        ("--epochs", args.epochs, args.epochs >= 1, "an integer >= 1"),
        (
            "--batch-size",
            args.batch_size,
            args.batch_size is None or 1 <= args.batch_size <= MAX_BATCH_SIZE,
            f"1 to {MAX_BATCH_SIZE}",
        ),
        (
            "--image-size",
            args.image_size,
            args.image_size is None or 8 <= args.image_size <= MAX_IMAGE_SIZE,
            f"8 to {MAX_IMAGE_SIZE} pixels",
        ),
        (
            "--validation-split",
            args.validation_split,
            math.isfinite(args.validation_split) and 0 <= args.validation_split < 1,
            "0 <= split < 1",
        ),
        ("--lr", args.lr, _lr_ok(args.lr), "'auto' or a finite number in (0, 10]"),
        ("--patience", args.patience, args.patience >= 0, "an integer >= 0"),
    ):
        if not ok:
            raise ValueError(
                f"{name} is out of range. Expected {expected}. Received: {name} {value}. See `cnnkit train --help`."
            )


def check_out(out: str) -> None:
    """``--out`` must be a folder (or a path where one can be made), never an existing file."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(
            f"--out names an existing file. Expected a run folder. Received: --out {out}. Choose a folder path, "
            "e.g. runs/NAME."
        )


def config_from_args(args: argparse.Namespace, data_dir: str, out: str) -> Any:
    check_train_options(args)
    check_out(out)
    return TrainConfig(
        data_dir=data_dir,
        out=out,
        model=args.model,
        pretrained=args.pretrained,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        validation_split=args.validation_split,
        augment=args.augment,
        lr=args.lr,
        seed=args.seed,
        patience=args.patience,
        tta=args.tta,
        precision=args.precision,
    )


def print_result(result: Any) -> None:
    m = result.metrics
    print()
    print(f"Run folder: {result.run_dir}")
    rows = [[k, str(p)] for k, p in result.files.items() if p.exists()]
    print(table(["what", "where"], rows))
    if "val_accuracy" in m:
        print()
        print(
            f"Validation: accuracy {m['val_accuracy']:.4f}, loss {m['val_loss']:.4f} "
            f"on {m['data'].get('num_validation', '?')} images ({m.get('epochs')} epochs, {m['train_seconds']:.0f} s)."
        )
        per = m.get("per_class", {})
        if per:
            rows = [
                [c, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", v["support"]]
                for c, v in per.items()
            ]
            print(table(["class", "precision", "recall", "f1", "support"], rows))
    if result.report_path:
        print(f"\nOpen the report: {result.report_path}")


def _rank_argv(args: argparse.Namespace, out: str) -> list[str]:
    """The `cnnkit train` command line each launched process runs (the same options, without --nproc)."""
    argv = ["train", args.data_dir, "--out", out, "--epochs", str(args.epochs)]
    argv += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    argv += ["--validation-split", str(args.validation_split), "--seed", str(args.seed)]
    argv += ["--lr", str(args.lr)] if args.lr is not None else []
    argv += ["--tta" if args.tta else "--no-tta", "--precision", args.precision]
    argv += ["--patience", str(args.patience), "--augment" if args.augment else "--no-augment"]
    argv += ["--model", args.model] if args.model else []
    argv += ["--image-size", str(args.image_size)] if args.image_size else []
    return argv + (["--pretrained"] if args.pretrained else [])


def run(args: argparse.Namespace) -> int:
    out = args.out or os.path.join("runs", os.path.basename(os.path.normpath(args.data_dir)) or "run")
    config = config_from_args(args, args.data_dir, out)
    if args.nproc < 1:
        raise ValueError(f"--nproc is out of range. Received: --nproc {args.nproc}. See `cnnkit train --help`.")
    if getattr(args, "budget", None) and (args.nproc > 1 or launched()):
        # Each process would measure and plan on its own: different plans, and ranks that wait on each other forever.
        given = (
            f"--nproc {args.nproc}" if args.nproc > 1 else f"WORLD_SIZE={os.environ['WORLD_SIZE']} from the launcher"
        )
        raise ValueError(
            "--budget plans the time of one process and cannot train data-parallel yet. Expected one process. "
            f"Received: --budget {args.budget} with {given}. Drop --budget, or run the command in one process."
        )
    if args.nproc > 1 and not launched():
        return launch_local(args.nproc, "cnnkit", _rank_argv(args, out))
    if getattr(args, "budget", None):
        result, _ = train_with_budget(config, parse_budget(args.budget), already_spent=process_elapsed())
    else:
        result = train_from_directory(config)
    if is_chief():
        print_result(result)
    return 0
