"""fit/evaluate/predict under torchrun with 2 processes (gloo on CPU, both on this machine) against one process.

The model has no Dropout and uses BatchNormalization(synchronized=True), so the 2-process run is the 1-process run
on the same global batches, up to float summation order: 1e-5 on the weights after 15 Adam steps. Measured: 4e-7 on
an AVX2 EPYC, 1.8e-6 on an AVX512/AMX Xeon, whose kernels sum in another order (Adam's normalized step magnifies the
rounding of a near-zero gradient). A wrong gradient average or batch split shows as one Adam step, 1e-2.
"""

import csv

import numpy as np
import pytest
from safetensors.numpy import load_file

from support.ddp import result, run_worker

pytestmark = pytest.mark.slow  # each torchrun start costs ~20-50 s on the shared 2-core machine


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    run_worker(one, nproc=1)
    run_worker(two, nproc=2)
    return one, two


def test_weights_equal_one_process_within_1e5_and_across_ranks(runs):
    one, two = runs
    single, rank0, rank1 = (load_file(str(p)) for p in (one / "rank0.safetensors", two / "rank0.safetensors",
                                                        two / "rank1.safetensors"))  # fmt: skip
    assert sorted(single) == sorted(rank0)
    for name in single:
        np.testing.assert_allclose(rank0[name], single[name], rtol=0, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(rank1[name], rank0[name], err_msg=name)  # DDP keeps replicas bit-identical


def test_history_and_evaluate_identical_on_both_ranks(runs):
    one, two = runs
    r0, r1, single = result(two, 0), result(two, 1), result(one, 0)
    assert r0["history"] == r1["history"]  # metrics on the gathered global batch: the same floats everywhere
    assert r0["evaluate"] == r1["evaluate"]
    assert sorted(r0["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key, values in single["history"].items():
        np.testing.assert_allclose(r0["history"][key], values, rtol=1e-5, err_msg=key)
    for key, value in single["evaluate"].items():
        np.testing.assert_allclose(r0["evaluate"][key], value, rtol=1e-5, err_msg=key)


def test_every_file_is_written_once_by_rank_0(runs):
    _, two = runs
    run_files = {
        "history.csv",
        "ckpt-1.weights.safetensors",
        "ckpt-2.weights.safetensors",
        "ckpt-3.weights.safetensors",
    }
    assert run_files <= set(result(two, 0)["writes"])
    assert [w for w in result(two, 1)["writes"] if not w.startswith("rank1.")] == []  # rank 1 wrote nothing else
    rows = list(csv.reader((two / "history.csv").read_text().splitlines()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]  # the header once, each epoch once
    assert not (two / "backup").exists()  # BackupAndRestore's backups deleted once training ended


def test_predict_returns_every_row_in_order_on_every_rank(runs):
    one, two = runs
    p0, p1, single = (
        np.load(p) for p in (two / "rank0.predict.npy", two / "rank1.predict.npy", one / "rank0.predict.npy")
    )
    assert p0.shape == (37, 3)  # 37 rows in batches of 10: 5 + 5 per batch, and 4 + 3 in the last
    np.testing.assert_array_equal(p0, p1)
    np.testing.assert_allclose(p0, single, rtol=0, atol=1e-6)


def test_a_rank_killed_mid_epoch_resumes_bit_for_bit(runs, tmp_path):
    _, two = runs
    killed = tmp_path / "killed"
    # Rank 1 SIGKILLs itself after step 7 (epoch 2, batch 3 of 4); torchrun restarts both ranks, which resume from
    # rank 0's last backup.
    run_worker(killed, "--kill-rank", "1", "--kill-step", "7", nproc=2, restarts=1)
    assert result(killed, 0)["restarted"] and result(killed, 1)["restarted"]
    reference, resumed = load_file(str(two / "rank0.safetensors")), load_file(str(killed / "rank0.safetensors"))
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    assert result(killed, 0)["history"] == result(two, 0)["history"]
    assert (killed / "history.csv").read_text() == (two / "history.csv").read_text()
