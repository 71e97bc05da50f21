"""Exact resume: a run SIGKILLed mid-epoch and resumed ends bit-identical to an uninterrupted one; damaged newest
checkpoints fall back to the previous one."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnkit import callbacks
from cnnkit.saving.checkpoint import CheckpointManager, load_state, save_state
from support.tiny import TinyCNN, trainer_for

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"

SCRIPT = textwrap.dedent(
    """
    import random, sys, time
    import numpy as np, torch
    from support.tiny import TinyCNN, trainer_for
    from cnnkit import callbacks
    from safetensors.torch import save_file

    backup_dir, out, slow = sys.argv[1], sys.argv[2], float(sys.argv[3])
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
    x = np.random.rand(96, 8, 8, 3).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)
    model = TinyCNN(dropout=0.3)  # dropout draws from torch's RNG every step
    trainer = trainer_for(model, optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], device="cpu")

    def tick(batch, logs):
        print("step", trainer.global_step, flush=True)
        time.sleep(slow)

    history = trainer.fit(x, y, batch_size=8, epochs=3, shuffle=True, verbose=0, validation_split=0.25,
                          callbacks=[callbacks.LambdaCallback(on_train_batch_end=tick),
                                     callbacks.BackupAndRestore(backup_dir, save_freq=1)])
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    print("history", history.history, flush=True)
    """
)


def _run(tmp_path, backup, out, slow=0.0, kill_at=None):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE.parent)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(backup), str(out), str(slow)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if kill_at is not None and line.strip() == f"step {kill_at}":
            os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no atexit: as a crash or an OOM kill
            break
    proc.wait(timeout=120)
    err = proc.stderr.read()
    return proc.returncode, lines, err


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    from safetensors.torch import load_file

    # 9 batches per epoch (72 training samples / 8); killed in the middle of epoch 1.
    rc, lines, err = _run(tmp_path, tmp_path / "backup", tmp_path / "resumed.safetensors", slow=0.05, kill_at=13)
    assert rc == -signal.SIGKILL, err
    assert not (tmp_path / "resumed.safetensors").exists()
    rc, resumed_lines, err = _run(tmp_path, tmp_path / "backup", tmp_path / "resumed.safetensors")
    assert rc == 0, err
    first = int(resumed_lines[0].split()[1])
    assert 13 <= first <= 20, resumed_lines[0]  # it continued mid-run, not from the start
    rc, ref_lines, err = _run(tmp_path, tmp_path / "backup_ref", tmp_path / "reference.safetensors")
    assert rc == 0, err
    resumed, reference = load_file(tmp_path / "resumed.safetensors"), load_file(tmp_path / "reference.safetensors")
    assert resumed.keys() == reference.keys()
    for key in reference:
        assert torch.equal(resumed[key], reference[key]), key  # bit for bit
    assert resumed_lines[-1] == ref_lines[-1]  # the same History, including the epoch that was interrupted


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)


class Crash(callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if self.model._trainer.global_step == self.at:
            raise KeyboardInterrupt


def _fit(backup_dir, extra=()):
    torch.manual_seed(0)
    trainer = trainer_for(TinyCNN(dropout=0.2), optimizer="adam", loss="binary_crossentropy", device="cpu")
    backup = callbacks.BackupAndRestore(str(backup_dir), save_freq=1)
    trainer.fit(*_data(), batch_size=16, epochs=2, verbose=0, callbacks=[*extra, backup])
    return trainer, backup


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "empty"])
def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path, damage):
    backup_dir = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _fit(backup_dir, [Crash(at=6)])
    newest, previous = CheckpointManager(backup_dir).checkpoints()
    assert load_state(previous)["position"] == [0, 4]  # after the last batch of epoch 0, before its end
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "flip_byte":
        newest.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])  # inside the tensor data
    else:
        newest.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match=r"Falling back to the previous checkpoint"):
        resumed, backup = _fit(backup_dir)
    assert backup.restored_from == (0, 4)
    reference, _ = _fit(tmp_path / "reference")
    for a, b in zip(resumed.model.state_dict().values(), reference.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_round_trip_and_atomic_replacement(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "nested": [1, (2.5, "a"), {"k": np.arange(3)}], "nan": float("nan")}
    save_state(tmp_path / "s.safetensors", state)
    back = load_state(tmp_path / "s.safetensors")
    assert torch.equal(back["w"], state["w"]) and back["nested"][:2] == [1, (2.5, "a")]
    np.testing.assert_array_equal(back["nested"][2]["k"], np.arange(3))
    assert np.isnan(back["nan"])
    manager = CheckpointManager(tmp_path / "m", keep=2)
    for i in range(4):
        manager.save({"i": i})
    assert [p.name for p in manager.checkpoints()] == ["ckpt-00000004.safetensors", "ckpt-00000003.safetensors"]
    assert not list((tmp_path / "m").glob(".*tmp"))  # no temporary files left behind
    assert manager.load_latest() == {"i": 3}
    with pytest.raises(TypeError, match="Cannot store this value in a checkpoint"):
        save_state(tmp_path / "bad.safetensors", {"f": object()})
