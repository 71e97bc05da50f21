"""The `cnnkit` command: from a folder of images to a trained, explained, exported classifier.

Each command lives in its own small module with ``add_parser(subparsers)`` and ``run(args) -> int``; the work is
done by library functions (:mod:`cnnkit.pipeline`, :mod:`cnnkit.report`, :mod:`cnnkit.export`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from cnnkit._version import __version__
from cnnkit.cli import demo, evaluate, explain, export, lr_find, predict, report, serve, train, zoo
from cnnkit.pipeline.run_folder import RunFolderBusy

COMMANDS = (train, lr_find, evaluate, predict, explain, report, export, serve, zoo, demo)

EPILOG = """\
examples:
  cnnkit demo                                   train on Fashion-MNIST and write runs/demo/report.html
  cnnkit train data/flowers --out runs/flowers  train on your own folder of class sub-folders
  cnnkit lr-find data/flowers                   plot loss against learning rate, suggest a rate
  cnnkit evaluate runs/flowers/model.cnnkit data/flowers-test
  cnnkit predict runs/flowers/model.cnnkit photo.jpg --top-k 3
  cnnkit explain runs/flowers/model.cnnkit photo.jpg --out explain/
  cnnkit export runs/flowers/model.cnnkit --format onnx
  cnnkit serve runs/flowers --port 8000
  cnnkit zoo

Run `cnnkit COMMAND --help` for the options and examples of each command.
"""

# Errors a user can fix (bad path, bad folder, wrong file): exit code 2, one line.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


# OS errors a user fixes: no space (or a file-size limit), quota, read-only filesystem, permission, address in use.
USER_ERRNOS = {
    errno.ENOSPC,
    errno.EFBIG,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EADDRINUSE,
    errno.ENOTDIR,
}


class CliError(Exception):
    """An error message for the user, printed as one line (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
    )
    parser = argparse.ArgumentParser(
        prog="cnnkit",
        description="Train, evaluate, explain and export image classifiers (a Keras-style CNN toolkit on PyTorch).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cnnkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        p = module.add_parser(sub, [common])
        p.set_defaults(func=module.run)
    return parser


def _setup_logging() -> None:
    # Library warnings (e.g. an image skipped by the data loader) are shown as one line each.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)


def _one_line(e: BaseException) -> str:
    # An OSError's str() starts with "[Errno N]"; its strerror is the message (cnnkit's writer puts the path in it).
    msg = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)).strip() or type(e).__name__
    if isinstance(e, OSError) and e.filename and str(e.filename) not in msg:
        msg = f"{msg}: {e.filename}"
    return " ".join(msg.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cnnkit` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    _setup_logging()
    debug = bool(getattr(args, "debug", False)) or os.environ.get("CNNKIT_DEBUG") == "1"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        hint = " (run the same command again to resume from the last completed epoch)"
        print(f"cnnkit {args.command}: interrupted{hint if args.command in ('train', 'demo') else ''}", file=sys.stderr)
        return 130
    except OSError as e:
        if debug:
            traceback.print_exc()
        # The OS refused something the user can fix (full disk, permissions, a busy port): say which path, exit 2.
        if e.errno in USER_ERRNOS or isinstance(e, USER_ERRORS):
            print(f"cnnkit {args.command}: error: {_one_line(e)}", file=sys.stderr)
            return 2
        print(f"cnnkit {args.command}: error: {type(e).__name__}: {_one_line(e)}", file=sys.stderr)
        return 1
    except (CliError, RunFolderBusy, *USER_ERRORS) as e:
        if debug:
            traceback.print_exc()
        print(f"cnnkit {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, the traceback with --debug
        if debug:
            traceback.print_exc()
        print(
            f"cnnkit {args.command}: error: {type(e).__name__}: {_one_line(e)} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
