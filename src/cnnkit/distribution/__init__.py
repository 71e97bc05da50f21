"""Keras' ``keras.distribution`` names for data-parallel training with PyTorch DDP, and the process-group helpers."""

from cnnkit.distribution.data_parallel import (
    DataParallel,
    active_data_parallel,
    distribution,
    list_devices,
    set_distribution,
)
from cnnkit.distribution.launch import launch_local
from cnnkit.distribution.process import barrier, get_rank, get_world_size, initialize, is_chief, launched

__all__ = [
    "DataParallel",
    "active_data_parallel",
    "barrier",
    "distribution",
    "get_rank",
    "get_world_size",
    "initialize",
    "is_chief",
    "launch_local",
    "launched",
    "list_devices",
    "set_distribution",
]
