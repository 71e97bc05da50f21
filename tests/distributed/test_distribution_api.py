"""Keras' distribution names, the batch split, and BatchNormalization(synchronized=True) in a real 2-process group."""

import os

import keras
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cnnkit import distribution, layers
from cnnkit.distribution.launch import free_port
from cnnkit.training import data_adapter as da
from cnnkit.training.distributed import Replicas, Rows, ShardedBatches, replicas_for


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    yield
    distribution.set_distribution(None)


def test_list_devices_and_data_parallel_in_one_process():
    assert distribution.list_devices("cpu") == ["cpu:0"]
    dp = distribution.DataParallel()
    assert dp.num_model_replicas == len(distribution.list_devices()) and dp.auto_shard_dataset
    distribution.set_distribution(dp)
    assert distribution.distribution() is dp
    assert replicas_for(torch.device("cpu")) == (None, torch.device("cpu"))  # no process group: plain training
    distribution.set_distribution(None)
    assert distribution.distribution() is None
    assert not distribution.initialize() and distribution.get_world_size() == 1 and distribution.is_chief()


def test_errors():
    with pytest.raises(ValueError, match="^Unknown device_type. Expected 'cpu' or 'gpu'. Received: device_type='tpu'."):
        distribution.list_devices("tpu")
    with pytest.raises(ValueError) as e:
        distribution.DataParallel(device_mesh="mesh")
    assert str(e.value) == (
        "DataParallel does not take a device_mesh with PyTorch. Expected devices=... or nothing. Received: "
        "device_mesh='mesh'. Pass devices=list_devices() or leave both out."
    )
    with pytest.raises(TypeError) as e:
        distribution.set_distribution("data_parallel")
    assert str(e.value) == (
        "Invalid distribution. Expected a cnnkit.distribution.DataParallel or None. Received: value of type str. "
        "Pass DataParallel()."
    )
    with pytest.raises(ValueError, match="^Incomplete process group settings. Expected job_addresses, num_processes"):
        distribution.initialize(job_addresses="10.0.0.1:29500")
    with pytest.raises(ValueError, match=r"^Invalid job_addresses. Expected 'host:port' of the coordinator first."):
        distribution.initialize(job_addresses="10.0.0.1", num_processes=2, process_id=0)


def _replicas(rank: int, world: int) -> Replicas:
    r = Replicas(distribution.DataParallel(), torch.device("cpu"))
    r.rank, r.world = rank, world
    return r


def test_each_rank_takes_a_contiguous_share_and_an_empty_share_borrows_one_row():
    assert [_replicas(r, 2).rows_of(5) for r in range(2)] == [(0, 3), (3, 5)]
    assert [_replicas(r, 3).rows_of(7) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
    x = torch.arange(11.0).reshape(11, 1)
    data = da.adapt(x, x, batch_size=5)  # batches of 5, 5 and 1 row
    rank1 = _replicas(1, 2)
    shares, borrowed = [], []
    for bx, by, _ in ShardedBatches(data, rank1).iterate(0):
        shares.append(bx[:, 0].tolist())
        borrowed.append(rank1.borrowed)
        assert torch.equal(bx, by)
    assert shares == [[3.0, 4.0], [8.0, 9.0], [10.0]] and borrowed == [False, False, True]
    # The loss scale makes DDP's average of the ranks' mean losses the mean over the whole batch.
    assert Rows(3, [3, 2]).scale == pytest.approx(1.2) and Rows(0, [1, 0]).scale == 0.0


def test_synchronized_is_keras_config_and_plain_batch_norm_in_one_process():
    assert "synchronized" in keras.layers.BatchNormalization().get_config()
    bn = layers.BatchNormalization(synchronized=True)
    assert bn.get_config()["synchronized"] is True
    assert layers.BatchNormalization.from_config(bn.get_config()).synchronized
    x = torch.randn(6, 4, 4, 3)
    plain = layers.BatchNormalization()
    torch.testing.assert_close(bn(x, training=True), plain(x, training=True), rtol=0, atol=0)


def _group_worker(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.manual_seed(0)
    x, weights = torch.randn(10, 5, 5, 3), torch.randn(10, 5, 5, 3)
    share = slice(0, 6) if rank == 0 else slice(6, 10)  # unequal shares: 6 and 4 rows
    bn = layers.BatchNormalization(synchronized=True, momentum=0.9)
    xs = x[share].clone().requires_grad_(True)
    bn(xs[:1], training=False)  # build
    with torch.no_grad():
        bn.gamma.copy_(torch.tensor([0.5, 1.5, 2.0]))
        bn.beta.copy_(torch.tensor([0.1, -0.2, 0.3]))
    out_share = bn(xs, training=True)
    (out_share * weights[share]).sum().backward()  # a loss that weights every output differently
    grads = torch.stack([bn.gamma.grad, bn.beta.grad])
    dist.all_reduce(grads)  # what DDP would average (here summed: the loss is a sum over rows)
    replicas = _replicas(rank, 2)
    gathered = replicas.gather_outputs([out_share.detach()[:2], out_share.detach()[2:]], len(xs))
    replicas.borrowed = rank == 1  # a batch of one row in all: rank 1 runs a borrowed row at weight 0
    tiny = replicas.gather_outputs([torch.full((1, 2), float(rank))], 1)
    np.savez(
        os.path.join(out, f"rank{rank}.npz"),
        out=gathered.numpy(),
        dx=xs.grad.numpy(),
        grads=grads.numpy(),
        mean=bn.moving_mean.detach().numpy(),
        var=bn.moving_variance.detach().numpy(),
        tiny=tiny.numpy(),
    )
    dist.destroy_process_group()


@pytest.mark.slow  # spawning 2 processes that import cnnkit: ~10 s idle, more on the shared machine
def test_synchronized_batch_norm_on_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    mp.spawn(_group_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (np.load(tmp_path / f"rank{r}.npz") for r in range(2))
    torch.manual_seed(0)
    x, weights = torch.randn(10, 5, 5, 3), torch.randn(10, 5, 5, 3)
    x.requires_grad_(True)
    bn = layers.BatchNormalization(momentum=0.9)
    bn(x[:1], training=False)
    with torch.no_grad():
        bn.gamma.copy_(torch.tensor([0.5, 1.5, 2.0]))
        bn.beta.copy_(torch.tensor([0.1, -0.2, 0.3]))
    expected = bn(x, training=True)
    (expected * weights).sum().backward()
    # float32 moments summed in another order: a few ulps.
    np.testing.assert_allclose(r0["out"], expected.detach().numpy(), atol=2e-6)  # gathered in order on every rank
    np.testing.assert_array_equal(r0["out"], r1["out"])
    np.testing.assert_allclose(np.concatenate([r0["dx"], r1["dx"]]), x.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(r0["grads"], torch.stack([bn.gamma.grad, bn.beta.grad]).numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(r1["mean"], bn.moving_mean.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(r1["var"], bn.moving_variance.detach().numpy(), atol=1e-6)
    np.testing.assert_array_equal(r0["tiny"], [[0.0, 0.0]])  # the borrowed row of rank 1 is dropped
    np.testing.assert_array_equal(r1["tiny"], [[0.0, 0.0]])
