"""`cnnkit report RUN_DIR`: (re)write the self-contained HTML report of a training run."""

from __future__ import annotations

import argparse
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.pipeline import write_report

EXAMPLES = """\
  cnnkit report runs/flowers                       writes runs/flowers/report.html
  cnnkit report runs/flowers --data data/flowers-test --out test-report.html
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "report", parents, "write the HTML report of a training run", __doc__, EXAMPLES)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `cnnkit train`")
    p.add_argument("--data", default=None, help="images to show (default: the run's validation split)")
    p.add_argument("--out", default=None, help="the HTML file to write (default: RUN_DIR/report.html)")
    return p


def run(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir, data_dir=args.data, out=args.out, progress=lambda m: print(f"  {m} ..."))
    print(f"Report: {path}")
    return 0
