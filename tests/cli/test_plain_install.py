"""The README's install, as a user runs it: a fresh venv with only `pip install torch==2.13.0 && pip install -e .`.

No extras, no system site-packages: `cnnkit train`, `demo`, `explain` and `report` work, and `export` names the extra
to install. pip takes torch and the rest from its local wheel cache and find-links (pip.conf), so nothing large is
downloaded; unpacking torch takes minutes on a busy 2-core machine (15 min with the cores shared, load ~15).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.images import class_folder

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, **kwargs):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_a_plain_install_runs_train_demo_explain_report_and_names_the_onnx_extra(tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=900)  # a real venv: no --system-site-packages
    # --no-compile: byte-compiling torch's thousands of modules is most of an install's time; Python compiles the
    # few it imports on first use.
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile"]
    _run([*pip, "torch==2.13.0"], timeout=1800)
    _run([*pip, "-e", ROOT], timeout=900)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONWARNINGS"] = "ignore"
    cnnkit = venv / "bin" / "cnnkit"
    probe = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import cnnkit, importlib.util as u; print(cnnkit.__file__, u.find_spec('onnx'), u.find_spec('keras'))",
        ],
        env=env,
    )
    assert probe.stdout.split()[0].startswith(str(ROOT / "src")) and probe.stdout.split()[1:] == ["None", "None"]
    data = tmp_path / "data"
    images = class_folder(data, {"cats": 12, "dogs": 12}, size=(28, 28))
    run = tmp_path / "run"
    common = dict(env=env, cwd=tmp_path, timeout=600)
    _run([cnnkit, "train", data, "--out", run, "--epochs", "1", "--model", "tutorial", "--image-size", "28"], **common)
    assert (run / "report.html").is_file() and (run / "model.cnnkit").is_file()
    _run([cnnkit, "report", run], **common)
    _run([cnnkit, "explain", run / "model.cnnkit", images[0], "--out", tmp_path / "explain"], **common)
    assert any((tmp_path / "explain").iterdir())
    _run([cnnkit, "demo", "--images-per-class", "20", "--epochs", "1", "--out", tmp_path / "demo"], **common)
    assert (tmp_path / "demo" / "report.html").is_file()
    export = subprocess.run([cnnkit, "export", run / "model.cnnkit"], capture_output=True, text=True, **common)
    assert export.returncode == 2
    assert export.stderr.strip().endswith("Install it with: pip install 'cnnkit[onnx]'."), export.stderr
