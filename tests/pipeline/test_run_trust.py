"""One run per folder, no training lost after fit() returns, and every valid image trained on.

A real `cnnkit train` child process is paused (CNNKIT_TEST_PAUSE_AT) between fit() returning and the report, while
it holds the run folder: a second run into the folder is refused with who holds it; the child is then killed with
SIGKILL there, and the next run takes the stale lock over and finishes without training a single batch again.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnkit.callbacks import LambdaCallback
from cnnkit.cli.main import main
from cnnkit.pipeline import TrainConfig, train_from_directory
from cnnkit.pipeline.run_folder import LOCK_FILE, RunFolderBusy, lock_run_folder
from support.images import bomb_png, class_folder

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("three")
    class_folder(root, {"a": 12, "b": 12, "c": 12}, size=(16, 16))
    return root


CHILD = """
import sys
from cnnkit.pipeline import TrainConfig, train_from_directory
train_from_directory(TrainConfig(sys.argv[1], sys.argv[2], model="tutorial", image_size=16, epochs=2,
                                 batch_size=8, seed=1, verbose=0, augment=False, patience=5), progress=None)
"""


@pytest.mark.slow  # a child training run (about 25 s on 2 shared cores)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_busy_folder_refused_then_a_kill_after_fit_resumes_without_retraining(folder, tmp_path, capsys):
    out, marker = tmp_path / "run", tmp_path / "paused"
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "CNNKIT_TEST_PAUSE_AT": "after_fit",
        "CNNKIT_TEST_MARKER": str(marker),
        "PYTHONWARNINGS": "ignore",
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(out)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the child run ended before fit() returned"
            assert time.monotonic() < deadline, "the child run did not reach the end of fit()"
            time.sleep(0.1)
        history = (out / "history.csv").read_text()
        # A second run into the busy folder: one clear refusal, exit 2, naming the holder.
        code = main(["train", str(folder), "--out", str(out), "--epochs", "2"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"cnnkit train: error: The run folder is in use by another cnnkit run (pid {child.pid}, host " in err
        assert "Wait for that run to finish, stop it, or choose another --out." in err
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert (out / "backup").is_dir() and not (out / "report.html").exists()
    batches = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs=None: batches.append(batch))
    cfg = TrainConfig(
        str(folder),
        str(out),
        model="tutorial",
        image_size=16,
        epochs=2,
        batch_size=8,
        seed=1,
        verbose=0,
        augment=False,
        patience=5,
        callbacks=[count],
    )
    result = train_from_directory(cfg, progress=None)  # the dead child's lock is stale: taken over
    assert result.resumed and batches == []  # nothing trained again
    assert (out / "history.csv").read_text() == history
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    assert (out / "report.html").is_file() and not (out / "backup").exists() and not (out / LOCK_FILE).exists()


def test_lock_names_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "then"}))
    with lock_run_folder(tmp_path):
        with pytest.raises(RunFolderBusy, match=rf"in use by another cnnkit run \(pid {os.getpid()}, host "):
            with lock_run_folder(tmp_path):
                pass
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_bomb_among_the_first_files_and_a_tif_only_class_train_on_every_valid_image(tmp_path, capsys, caplog):
    root = tmp_path / "data"
    good = class_folder(root, {"a": 8, "b": 8}, size=(16, 16))
    bomb = bomb_png(root / "a" / "000_bomb.png")  # sorted first: the first file the inspection looks at
    (root / "scans").mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "scans" / f"{i}.tif")
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        code = main(
            [
                "train",
                str(root),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--model",
                "tutorial",
                "--image-size",
                "16",
                "--validation-split",
                "0.25",
                "--seed",
                "2",
            ]
        )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"Skipped {bomb}: too many pixels (possible decompression bomb)") for m in messages)
    assert any(
        "Left out 1 class folder(s) with no image cnnkit can read: class 'scans': 3 files (.tif)" in m for m in messages
    )
    assert json.loads((out / "class_names.json").read_text()) == ["a", "b"]
    data = json.loads((out / "metrics.json").read_text())["data"]
    assert data["num_train"] + data["num_validation"] == len(good)
    assert "\r" not in printed.out + printed.err  # piped: one line per epoch, no redrawn bar
