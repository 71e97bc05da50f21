"""`cnnkit lr-find DATA_DIR`: the learning-rate range test, drawn as lr_find.png in the run folder."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.cli.train import add_train_options, config_from_args
from cnnkit.pipeline.lr_find import lr_find_from_directory

EXAMPLES = """\
  cnnkit lr-find data/flowers                       the curve and the suggested rate for the default model
  cnnkit lr-find data/flowers --model ResNet20 --num-iter 200 --end-lr 1
  cnnkit train data/flowers --lr 3e-3               then train with the rate you picked (or --lr auto)

The run folder (default runs/<name of DATA_DIR>) gets lr_find.png and lr_find.json.
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "lr-find", parents, "find a learning rate (range test) for a folder", __doc__, EXAMPLES)
    add_train_options(p)
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of images per class")
    p.add_argument("--out", default=None, help="run folder (default: runs/<name of DATA_DIR>)")
    p.add_argument("--num-iter", type=int, default=100, help="batches in the sweep (default 100)")
    p.add_argument("--start-lr", type=float, default=1e-7, help="first learning rate (default 1e-7)")
    p.add_argument("--end-lr", type=float, default=10.0, help="last learning rate (default 10)")
    return p


def run(args: argparse.Namespace) -> int:
    out = args.out or os.path.join("runs", os.path.basename(os.path.normpath(args.data_dir)) or "run")
    cfg = config_from_args(args, args.data_dir, out)
    result, png = lr_find_from_directory(cfg, num_iter=args.num_iter, start_lr=args.start_lr, end_lr=args.end_lr)
    picks = ", ".join(f"{k} {v:.3g}" for k, v in result.suggestions.items())
    print(f"\nSuggestions: {picks} (--lr auto uses valley).")
    print(f"The curve: {png}")
    return 0
