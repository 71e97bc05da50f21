"""Every user-fixable condition exits 2 with a one-line message, checked before any work is done."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cnnkit import layers, models
from cnnkit.cli import export as export_cli
from cnnkit.cli.main import main
from support.images import class_folder

SRC = Path(__file__).resolve().parents[2] / "src"


def error_of(capsys, *args):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


@pytest.fixture
def folder(tmp_path):
    class_folder(tmp_path / "data", {"a": 4, "b": 4}, size=(8, 8))
    return tmp_path / "data"


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--lr", "inf", "--lr is out of range. Expected 'auto' or a finite number in (0, 10]. Received: --lr inf."),
        ("--lr", "nan", "--lr is out of range. Expected 'auto' or a finite number in (0, 10]. Received: --lr nan."),
        (
            "--image-size",
            "100000",
            "--image-size is out of range. Expected 8 to 2048 pixels. Received: --image-size 100000.",
        ),
        ("--batch-size", "0", "--batch-size is out of range. Expected 1 to 65536. Received: --batch-size 0."),
        ("--validation-split", "1", "--validation-split is out of range. Expected 0 <= split < 1."),
    ],
)
def test_bad_train_options_exit_2_before_any_work(folder, tmp_path, capsys, option, value, expected):
    code, line = error_of(capsys, "train", folder, "--out", tmp_path / "run", option, value)
    assert code == 2 and line.startswith(f"cnnkit train: error: {expected}"), line
    assert not (tmp_path / "run").exists()


def test_out_naming_an_existing_file_exits_2(folder, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, line = error_of(capsys, "train", folder, "--out", tmp_path / "notes.txt")
    assert code == 2
    assert line == (
        f"cnnkit train: error: --out names an existing file. Expected a run folder. Received: --out "
        f"{tmp_path / 'notes.txt'}. Choose a folder path, e.g. runs/NAME."
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_serve_port_out_of_range_and_busy_exit_2(tmp_path, capsys):
    code, line = error_of(capsys, "serve", tmp_path / "missing.cnnkit", "--port", "70000")
    assert code == 2 and line.startswith("cnnkit serve: error: --port is out of range. Expected 0 to 65535")
    model = models.Sequential([layers.Input((8, 8, 3)), layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.save(tmp_path / "m.cnnkit")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, line = error_of(capsys, "serve", tmp_path / "m.cnnkit", "--port", port)
    assert code == 2 and line.startswith(f"cnnkit serve: error: Cannot listen on 127.0.0.1:{port} (Address already")
    assert line.endswith("Stop the program using it or choose another --port (0 picks a free one).")


def test_export_without_onnx_names_the_extra(tmp_path, capsys, monkeypatch):
    real = export_cli.importlib.util.find_spec
    monkeypatch.setattr(
        export_cli.importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    code, line = error_of(capsys, "export", tmp_path / "m.cnnkit")
    assert code == 2
    assert line == (
        "cnnkit export: error: ONNX export needs onnx, which is not installed. Expected the onnx extra. Received: "
        "--format onnx. Install it with: pip install 'cnnkit[onnx]'."
    )


FULL = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as a full disk would
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
from cnnkit.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE")
def test_a_write_the_disk_refuses_names_the_path_exits_2_and_leaves_no_partial_file(folder, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    args = ["train", folder, "--out", out, "--epochs", "1", "--model", "tutorial", "--image-size", "32"]
    proc = subprocess.run(
        [sys.executable, "-c", FULL, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert line.startswith("cnnkit train: error: Could not write '") and str(out) in line
    assert "(File too large). Expected a writable folder with enough free space." in line
    assert not [p for p in out.rglob("*.tmp")]
