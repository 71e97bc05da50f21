"""`cnnkit train DATA_DIR`: train a classifier on a folder of class sub-folders."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cnnkit.cli._format import command_parser, table
from cnnkit.pipeline import TrainConfig, train_from_directory
from cnnkit.pipeline.budget import parse_budget, process_elapsed, train_with_budget

EXAMPLES = """\
  cnnkit train data/flowers                         model and image size chosen from the data
  cnnkit train data/flowers --out runs/flowers --epochs 20 --model ResNet20
  cnnkit train data/parts --model tutorial --image-size 64 --no-augment --lr 3e-4
  cnnkit train data/flowers --budget 5m             the best model 5 minutes can train (says the plan first)
  cnnkit train data/flowers --lr auto               learning rate from the range test (see `cnnkit lr-find`)
  cnnkit train data/flowers --out runs/flowers      run again after a crash: it resumes from the last epoch

DATA_DIR holds one sub-folder of images per class (DATA_DIR/cat/*.jpg, DATA_DIR/dog/*.jpg, ...).
The run folder gets model.cnnkit, history.csv, metrics.json, class_names.json and report.html.
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "train", parents, "train a classifier on a folder of images", __doc__, EXAMPLES)
    add_train_options(p)
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of images per class")
    p.add_argument("--out", default=None, help="run folder (default: runs/<name of DATA_DIR>)")
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
    p.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
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


def check_train_options(args: argparse.Namespace) -> None:
    for name, value, ok in (
        ("--epochs", args.epochs, args.epochs >= 1),
        ("--batch-size", args.batch_size, args.batch_size >= 1),
        ("--image-size", args.image_size, args.image_size is None or args.image_size >= 8),
        ("--validation-split", args.validation_split, 0 <= args.validation_split < 1),
        ("--lr", args.lr, args.lr is None or args.lr == "auto" or args.lr > 0),
    ):
        if not ok:
            raise ValueError(f"{name} is out of range. Received: {name} {value}. See `cnnkit train --help`.")


def config_from_args(args: argparse.Namespace, data_dir: str, out: str) -> Any:
    check_train_options(args)
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


def run(args: argparse.Namespace) -> int:
    out = args.out or os.path.join("runs", os.path.basename(os.path.normpath(args.data_dir)) or "run")
    cfg = config_from_args(args, args.data_dir, out)
    if getattr(args, "budget", None):
        result, _ = train_with_budget(cfg, parse_budget(args.budget), already_spent=process_elapsed())
    else:
        result = train_from_directory(cfg)
    print_result(result)
    return 0
