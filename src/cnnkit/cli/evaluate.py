"""`cnnkit evaluate MODEL DATA_DIR`: accuracy, per-class precision/recall/F1 and the confusion matrix."""

from __future__ import annotations

import argparse
from typing import Any

from cnnkit.cli._format import command_parser, confusion_table, print_json, table
from cnnkit.pipeline import evaluate_directory, load_classifier

EXAMPLES = """\
  cnnkit evaluate runs/flowers/model.cnnkit data/flowers-test
  cnnkit evaluate runs/flowers data/flowers-test --json > metrics.json     (a run folder works as MODEL)
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "evaluate", parents, "measure a trained model on a folder of images", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a .cnnkit model file (or the run folder holding model.cnnkit)")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of images per class")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="average each image's probabilities with its mirror's (flip test-time augmentation; default on)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    clf = load_classifier(args.model)
    ev = evaluate_directory(clf, args.data_dir, batch_size=args.batch_size, tta=args.tta)
    if args.json:
        print_json(ev.to_dict())
        return 0
    tta = "   (flip test-time augmentation)" if args.tta else ""
    print(f"Accuracy: {ev.accuracy:.4f}   loss: {ev.loss:.4f}   images: {ev.num_images}{tta}")
    print()
    rows = [
        [
            c,
            f"{ev.per_class['precision'][i]:.3f}",
            f"{ev.per_class['recall'][i]:.3f}",
            f"{ev.per_class['f1'][i]:.3f}",
            int(ev.per_class["support"][i]),
        ]
        for i, c in enumerate(ev.class_names)
    ]
    print(table(["class", "precision", "recall", "f1", "support"], rows))
    print()
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(confusion_table(ev.confusion_matrix, ev.class_names))
    return 0
