"""`cnnkit zoo`: the registered models with their parameter counts and available weights."""

from __future__ import annotations

import argparse
from typing import Any

from cnnkit.applications import get_model_entry, list_models
from cnnkit.cli._format import command_parser, print_json, table

EXAMPLES = """\
  cnnkit zoo
  cnnkit zoo 'ResNet*'
  cnnkit zoo --json
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "zoo", parents, "list the models of the zoo", __doc__, EXAMPLES)
    p.add_argument("pattern", nargs="?", default=None, help="only names matching this pattern, e.g. 'VGG*'")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in list_models(args.pattern):
        e = get_model_entry(name)
        rows.append({"name": name, "family": e.family, "params": e.num_params, "weights": sorted(e.weights)})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"No model matches {args.pattern!r}.")
        return 0
    print(
        table(
            ["model", "family", "parameters", "weights"],
            [
                [r["name"], r["family"], f"{r['params']:,}" if r["params"] else "-", ", ".join(r["weights"]) or "-"]
                for r in rows
            ],
        )
    )
    print(
        "\nparameters: the published count (torchvision's, trainable weights only). model.count_params() counts as "
        "Keras does,\nBatchNorm's moving mean and variance included, so it is larger for models with BatchNorm "
        "(ResNet20: 269,722 here, 271,098)."
    )
    print(f"\n{len(rows)} models. Train one: cnnkit train DATA_DIR --model NAME [--pretrained]")
    return 0
