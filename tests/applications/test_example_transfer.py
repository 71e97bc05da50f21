"""examples/transfer_learning.py runs end to end (tiny settings; the real figures are in its docstring)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_transfer_learning_example_runs():
    pytest.importorskip("cnnkit.training.trainer")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    args = ["--pretrain-per-class", "16", "--pretrain-epochs", "1", "--few-shot", "8", "--epochs", "1"]
    args += ["--test-limit", "500"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "transfer_learning.py"), *args],
        capture_output=True, text=True, timeout=110, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "1. Pretraining ResNet20 on 128 images of 8 classes" in out
    assert "testing on 102 images" in out  # the T-shirt and Shirt images among the first 500
    for line in ("a. pretrained base, frozen + new head", "b. pretrained base, fine-tuned top block",
                 "c. from scratch, same 16 images"):  # fmt: skip
        assert line in out
