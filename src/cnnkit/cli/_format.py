"""Plain-text tables and small helpers shared by the commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def command_parser(sub: Any, name: str, parents: list, help: str, description: str, examples: str) -> Any:  # noqa: A002
    return sub.add_parser(
        name,
        parents=parents,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A left/right aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True))

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(line.rstrip() for line in lines)


def _is_number(s: str) -> bool:
    try:
        float(s.replace(",", "").rstrip("%"))
        return True
    except ValueError:
        return s in ("-", "")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def confusion_table(cm: Any, names: Sequence[str]) -> str:
    short = [n if len(n) <= 12 else n[:11] + "~" for n in names]
    rows = [[short[i], *(int(v) for v in cm[i])] for i in range(len(names))]
    return table(["true \\ predicted", *short], rows)
