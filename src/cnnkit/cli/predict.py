"""`cnnkit predict MODEL IMAGE_OR_DIR...`: the class and probability of each image."""

from __future__ import annotations

import argparse
from typing import Any

from cnnkit.cli._format import command_parser, print_json, table
from cnnkit.pipeline import load_classifier, predict_images

EXAMPLES = """\
  cnnkit predict runs/flowers/model.cnnkit photo.jpg
  cnnkit predict runs/flowers photos/ --top-k 3
  cnnkit predict runs/flowers a.jpg b.png --json
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "predict", parents, "classify images with a trained model", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a .cnnkit model file (or the run folder holding model.cnnkit)")
    p.add_argument("images", metavar="IMAGE_OR_DIR", nargs="+", help="image files or folders of images")
    p.add_argument("--top-k", type=int, default=1, help="show the K most likely classes (default 1)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="average each image's probabilities with its mirror's (flip test-time augmentation; default on)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1. Received: --top-k {args.top_k}. Pass e.g. --top-k 3.")
    clf = load_classifier(args.model)
    results = predict_images(clf, args.images, top_k=args.top_k, tta=args.tta)
    if args.json:
        print_json(results)
        return 0
    if args.top_k == 1:
        print(
            table(
                ["image", "class", "probability"], [[r["path"], r["class"], f"{r['probability']:.4f}"] for r in results]
            )
        )
    else:
        rows = [[r["path"], *(f"{t['class']} ({t['probability']:.3f})" for t in r["top_k"])] for r in results]
        k = len(results[0]["top_k"])
        print(table(["image", *(f"top {i + 1}" for i in range(k))], rows))
    return 0
