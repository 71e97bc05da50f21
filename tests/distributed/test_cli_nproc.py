"""`cnnkit train DATA --nproc 2`: two local processes (torchrun, gloo) train one folder into one run folder."""

import json
import subprocess
import sys

import pytest

from support.ddp import env
from support.images import class_folder


@pytest.mark.slow  # two processes train and rank 0 writes the report: ~60-90 s on the shared 2-core machine
def test_train_nproc_2_writes_one_run_folder_with_one_report(tmp_path):
    class_folder(tmp_path / "data", {"cat": 12, "dog": 12}, size=(16, 16))
    cmd = [sys.executable, "-m", "cnnkit", "train", "data", "--nproc", "2", "--epochs", "2", "--model", "tutorial",
           "--image-size", "16", "--out", "run"]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=tmp_path, env={**env(), "CNNKIT_HOME": str(tmp_path / "home")}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "class_names.json", "history.csv", "metrics.json", "model.cnnkit", "report.html",
    ]  # fmt: skip
    assert not (tmp_path / "runs").exists()
    assert proc.stdout.count("Run folder: run") == 1  # rank 0 reports; rank 1 prints nothing
    assert proc.stdout.count("Epoch 2/2") == 1
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and [r.split(",")[0] for r in history[1:]] == ["0", "1"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["data"]["num_train"] == 20
