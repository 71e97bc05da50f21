"""The run folder: what `cnnkit train` writes there, and reading it back for `cnnkit report`, evaluate and explain.

A run folder holds ``model.cnnkit`` (the trained model), ``history.csv`` (one row per epoch, as CSVLogger writes it),
``metrics.json`` (final validation metrics, the confusion matrix, and under ``"data"`` how the data was loaded and
split, so that the validation set can be rebuilt), ``class_names.json`` and ``report.html``. While training runs it
also holds ``backup/`` (BackupAndRestore) and ``checkpoint.best.cnnkit``; both go when the run completes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnkit.common.files import atomic_write_json
from cnnkit.utils import image_dataset_from_directory

__all__ = [
    "BACKUP_DIR",
    "BEST_CHECKPOINT",
    "CLASS_NAMES_FILE",
    "HISTORY_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "REPORT_FILE",
    "RunFolder",
    "RunFolderBusy",
    "load_run",
    "lock_run_folder",
    "read_history",
    "write_json",
]

MODEL_FILE = "model.cnnkit"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CLASS_NAMES_FILE = "class_names.json"
REPORT_FILE = "report.html"
BACKUP_DIR = "backup"
BEST_CHECKPOINT = "checkpoint.best.cnnkit"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as indented JSON, atomically."""
    return atomic_write_json(path, obj, indent=2)


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """``history.csv`` as ``{column: [value per epoch]}`` (the ``epoch`` column and non-numbers left out)."""
    out: dict[str, list[float]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k is None or k == "epoch" or v in (None, ""):
                    continue
                try:
                    out.setdefault(k, []).append(float(v))
                except ValueError:
                    continue
    return out


LOCK_FILE = ".cnnkit.lock"


class RunFolderBusy(RuntimeError):
    """Another live process holds the run folder's lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def lock_run_folder(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Holds ``run_dir/.cnnkit.lock`` (pid, host, start time) while the block runs: one run per folder.

    The lock file is created with ``O_EXCL``, so of two runs started at once exactly one gets it. A lock left by a
    process that no longer exists on this host (killed, crashed) is taken over; a live holder makes the second run
    fail with :class:`RunFolderBusy`, naming the pid, host and start time.

    Example:
        >>> with lock_run_folder("runs/flowers"):  # doctest: +SKIP
        ...     train(...)
    """
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            holder = _read_lock(lock)
            pid, host = holder.get("pid"), holder.get("host")
            if not holder:  # being written this instant by its holder, or empty after a crash mid-write
                time.sleep(0.2)
                holder = _read_lock(lock)
                pid, host = holder.get("pid"), holder.get("host")
            stale = host == me["host"] and isinstance(pid, int) and not _pid_alive(pid)
            if stale or (not holder and _lock_age(lock) > 10):
                lock.unlink(missing_ok=True)  # its process is gone: take it over
                continue
            raise RunFolderBusy(
                f"The run folder is in use by another cnnkit run (pid {pid}, host {host}, since "
                f"{holder.get('since')}). Expected a folder no other run writes to. Received: --out={str(folder)!r}. "
                "Wait for that run to finish, stop it, or choose another --out."
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        break
    else:
        raise RunFolderBusy(
            f"Could not take the run folder's lock. Expected to create {str(lock)!r}. Received: --out="
            f"{str(folder)!r}. Remove the lock file if no cnnkit run uses the folder."
        )
    try:
        yield folder
    finally:
        if _read_lock(lock).get("pid") == me["pid"]:
            lock.unlink(missing_ok=True)


def _lock_age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class RunFolder:
    """A run folder and what it holds: the per-epoch history, the metrics and the class names."""

    path: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def files(self) -> dict[str, Path]:
        """What a completed run leaves, by role: model, history, metrics, class_names, report."""
        names = {
            "model": MODEL_FILE,
            "history": HISTORY_FILE,
            "metrics": METRICS_FILE,
            "class_names": CLASS_NAMES_FILE,
            "report": REPORT_FILE,
        }
        return {role: self.path / name for role, name in names.items()}

    def validation_dataset(self, data_dir: str | os.PathLike | None = None) -> Any:
        """The validation set as training split it, rebuilt from ``metrics.json``'s ``"data"`` (None if unknown).

        With ``data_dir``, every image of that folder instead, loaded as training loaded images.
        """
        data = dict(self.metrics.get("data") or {})
        directory = data_dir or data.get("directory")
        if not directory or not Path(directory).is_dir():
            return None
        split = data.get("validation_split") or None
        kwargs: dict[str, Any] = {
            "label_mode": "int",
            "color_mode": data.get("color_mode", "rgb"),
            "batch_size": int(data.get("batch_size", 32)),
            "image_size": tuple(data.get("image_size", (256, 256))),
            "shuffle": False,
        }
        if split and data_dir is None:
            kwargs.update(validation_split=split, subset="validation", seed=data.get("seed", 0), shuffle=True)
        return image_dataset_from_directory(str(directory), **kwargs)


def load_run(run_dir: str | os.PathLike) -> RunFolder:
    """Reads a run folder; missing files give empty fields, a missing folder a clear error."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(
            f"The run folder does not exist. Expected a folder written by `cnnkit train`. "
            f"Received: run_dir={str(run_dir)!r}. Check the path (e.g. runs/NAME)."
        )
    run = RunFolder(path=path)
    if (path / HISTORY_FILE).is_file():
        run.history = read_history(path / HISTORY_FILE)
    if (path / METRICS_FILE).is_file():
        run.metrics = json.loads((path / METRICS_FILE).read_text(encoding="utf-8"))
    if (path / CLASS_NAMES_FILE).is_file():
        run.class_names = [str(c) for c in json.loads((path / CLASS_NAMES_FILE).read_text(encoding="utf-8"))]
    if not (run.metrics or run.class_names or run.model_path.is_file()):
        raise ValueError(
            "The folder is not a cnnkit run. Expected model.cnnkit, metrics.json or class_names.json in it. "
            f"Received: run_dir={str(run_dir)!r}. Pass the --out folder of `cnnkit train`."
        )
    return run
