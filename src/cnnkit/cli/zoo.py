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


def _count(n: int | None) -> str:
    return f"{n:,}" if n else "-"


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in list_models(args.pattern):
        e = get_model_entry(name)
        rows.append({"name": name, "family": e.family, "params": e.num_params, "keras_params": e.keras_params,
                     "torchvision_params": e.torchvision_params,
                     "weights": sorted(k for k, w in e.weights.items() if w.include_top)})  # fmt: skip
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"No model matches {args.pattern!r}.")
        return 0
    print(
        table(
            ["model", "family", "parameters", "keras_params", "torchvision_params", "weights"],
            [
                [
                    r["name"],
                    r["family"],
                    _count(r["params"]),
                    _count(r["keras_params"]),
                    _count(r["torchvision_params"]),
                    ", ".join(r["weights"]) or "-",
                ]
                for r in rows
            ],  # fmt: skip
        )
    )
    print(f"\n{len(rows)} models. Train one: cnnkit train DATA_DIR --model NAME [--pretrained]")
    return 0
