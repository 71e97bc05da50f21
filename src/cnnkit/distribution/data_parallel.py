"""Keras' distribution API for data parallelism: ``list_devices``, ``DataParallel``, ``set_distribution``.

Keras 3's own ``keras.distribution.DataParallel`` runs on JAX only; here the same names train with PyTorch's
DistributedDataParallel, one process per device, in a process group started by torchrun (or another launcher).
"""

from __future__ import annotations

import torch

from cnnkit.distribution import process

_distribution: DataParallel | None = None  # Keras keeps the distribution in a global; so does this module


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices of the whole job as ``'type:id'`` strings (Keras' ``list_devices``): one per process.

    ``device_type`` is ``'cpu'`` or ``'gpu'``; by default GPUs when there are any, else CPUs. In a process group every
    process owns one device, so the list has ``world_size`` entries; in a single process it lists this machine's GPUs
    (or one CPU).

    Example:
        >>> list_devices("cpu")
        ['cpu:0']
    """
    if device_type is not None and device_type.lower() not in ("cpu", "gpu", "cuda"):
        raise ValueError(
            "Unknown device_type. Expected 'cpu' or 'gpu'. Received: "
            f"device_type={device_type!r}. Pass device_type='cpu' or device_type='gpu'."
        )
    gpu = torch.cuda.is_available() if device_type is None else device_type.lower() in ("gpu", "cuda")
    if gpu and not torch.cuda.is_available():
        return []
    kind = "gpu" if gpu else "cpu"
    if process.is_initialized():
        return [f"{kind}:{i}" for i in range(process.get_world_size())]
    return [f"{kind}:{i}" for i in range(torch.cuda.device_count() if gpu else 1)]


class DataParallel:
    """Data parallelism (Keras' ``keras.distribution.DataParallel``): the model is replicated, each batch is split.

    With :func:`set_distribution`, ``fit``/``evaluate``/``predict`` join the process group started by the launcher
    (gloo on CPU, NCCL on CUDA) and train with DistributedDataParallel. ``batch_size`` stays the global batch: each
    step's batch is split across the replicas, so a run's batches and results do not depend on the number of
    processes. Under torchrun this is also what happens without ``set_distribution``.

    Args:
        device_mesh: Not supported with PyTorch (one process per device); must be None.
        devices: The devices of the job, one per process (``list_devices()`` by default).
        auto_shard_dataset: Split every batch across the processes (default). ``False`` when each process already
            reads its own part of the data: its batches are then its replica's share as they are.

    Example:
        >>> distribution = DataParallel(devices=list_devices("cpu"))
        >>> distribution.num_model_replicas
        1
    """

    def __init__(
        self, device_mesh: object = None, devices: list[str] | None = None, auto_shard_dataset: bool = True
    ) -> None:
        if device_mesh is not None:
            raise ValueError(
                "DataParallel does not take a device_mesh with PyTorch. Expected devices=... or nothing. "
                f"Received: device_mesh={device_mesh!r}. Pass devices=list_devices() or leave both out."
            )
        devices = list_devices() if not devices else [str(d) for d in devices]
        world = process.get_world_size()
        if process.is_initialized() and len(devices) != world:
            raise ValueError(
                "DataParallel needs one device per process. Expected "
                f"{world} devices (the world size). Received: devices={devices!r}. Pass devices=None."
            )
        self.devices, self.auto_shard_dataset = devices, bool(auto_shard_dataset)

    @property
    def num_model_replicas(self) -> int:
        return len(self.devices)

    def __repr__(self) -> str:
        return f"DataParallel(devices={self.devices!r}, auto_shard_dataset={self.auto_shard_dataset})"


def set_distribution(value: DataParallel | None) -> None:
    """Sets the distribution used by ``fit``/``evaluate``/``predict`` (Keras' ``set_distribution``); None unsets it.

    Example:
        >>> set_distribution(DataParallel(devices=["cpu:0"]))
        >>> distribution()
        DataParallel(devices=['cpu:0'], auto_shard_dataset=True)
        >>> set_distribution(None)
    """
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            "Invalid distribution. Expected a cnnkit.distribution.DataParallel or None. "
            f"Received: value of type {type(value).__name__}. Pass DataParallel()."
        )
    _distribution = value


def distribution() -> DataParallel | None:
    """The distribution set with :func:`set_distribution` (Keras' ``distribution()``), or None."""
    return _distribution


def active_data_parallel() -> DataParallel | None:
    """The data parallelism in effect: the one set, or an implicit ``DataParallel()`` under a launcher (torchrun)."""
    if _distribution is None and not process.launched() and not process.is_initialized():
        return None
    process.initialize()
    if not process.is_initialized():
        return None
    return _distribution if _distribution is not None else DataParallel()
