"""Data-parallel training under torchrun: DDP, batches split across replicas, metrics on the global batch.

Semantics (Keras'): ``batch_size`` is the global batch. Every rank walks the same (seed, epoch) order, so every
rank sees the same global batches, and takes its contiguous share of the rows (the first ``n % world`` ranks one row
more). The loss of a rank's share is scaled by ``n_local * world / n`` before DDP averages the gradients, so the
step equals a one-process step on the whole batch, whatever the number of processes and however the last batch
splits. Metrics and the loss tracker are updated on the gathered global batch on every rank: every rank holds the
same metric state and logs the same numbers (so EarlyStopping and ReduceLROnPlateau decide alike), and a backup
written by rank 0 restores every rank.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from cnnkit.distribution import DataParallel, active_data_parallel, get_rank, get_world_size
from cnnkit.distribution.process import process_device
from cnnkit.training import data_adapter as da


@dataclass
class Rows:
    """How one global batch is split: this rank's real rows, every rank's row count, and the loss scale."""

    local: int
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def scale(self) -> float:
        # DDP averages gradients over ranks; weighting each rank's mean loss by its share of the rows makes the
        # average the gradient of the mean over the whole batch.
        return self.local * len(self.counts) / max(self.total, 1)


class Replicas:
    """The data parallelism of one process: its rank, the DDP wrapper and the collectives of a step."""

    def __init__(self, strategy: DataParallel, device: torch.device) -> None:
        self.rank, self.world = get_rank(), get_world_size()
        self.auto_shard = strategy.auto_shard_dataset
        self.device = device
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None
        self._ddp_params: list | None = None
        self.borrowed = False  # this rank's share of the current batch is empty: it runs one row at weight 0

    # -------------------------------------------------------------------------------------------------- model
    def wrap(self, model: torch.nn.Module, params: list) -> torch.nn.Module:
        """The DDP wrapper of ``model`` (made again when the trainable parameters change); it also broadcasts
        rank 0's weights and buffers, so every replica starts from the same model."""
        if self._ddp is None or self._ddp_params is None or any(a is not b for a, b in zip(params, self._ddp_params)):
            ids = [self.device] if self.device.type == "cuda" else None
            self._ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
            self._ddp_params = list(params)
        return self._ddp

    # --------------------------------------------------------------------------------------------------- data
    def rows_of(self, n: int) -> tuple[int, int]:
        """``[lo, hi)``: this rank's contiguous share of a batch of ``n`` rows."""
        base, extra = divmod(n, self.world)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)

    def shard(self, data: Any) -> Any:
        """Batches of ``data`` cut down to this rank's share (unchanged with ``auto_shard_dataset=False``)."""
        if isinstance(data, da.ArrayBatches) and data.shuffle:
            data.seed = self.broadcast_int(data.seed)  # every rank must walk the same (seed, epoch) order
        return data if data is None or not self.auto_shard else ShardedBatches(data, self)

    # ------------------------------------------------------------------------------------------- collectives
    def rows(self, n: int) -> Rows:
        local = 0 if self.borrowed else n
        counts = torch.zeros(self.world, dtype=torch.int64, device=self._comm_device())
        counts[self.rank] = local
        dist.all_reduce(counts)
        return Rows(local, [int(c) for c in counts.tolist()])

    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def gather_rows(self, tensor: torch.Tensor, rows: Rows) -> torch.Tensor:
        """Every rank's real rows of ``tensor``, concatenated in rank order (the batch's order)."""
        width = max(max(rows.counts), 1)
        dtype = tensor.dtype
        if dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        elif dtype == torch.bool:
            tensor = tensor.to(torch.uint8)
        mine = tensor[: rows.local].to(self._comm_device())
        padded = mine.new_zeros((width, *mine.shape[1:]))
        padded[: rows.local] = mine
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded.contiguous())
        out = torch.cat([p[:c] for p, c in zip(parts, rows.counts)]).to(tensor.device)
        return out.bool() if dtype == torch.bool else out

    def gather_for_metrics(self, loss: torch.Tensor, y: Any, y_pred: Any, sw: Any, rows: Rows) -> tuple:
        """The step's mean loss over the global batch, and the global batch's ``y``, ``y_pred`` and weights."""
        sums = torch.zeros(self.world, dtype=torch.float64, device=self._comm_device())
        sums[self.rank] = loss.detach().double() * rows.local
        dist.all_reduce(sums)  # one rank writes each slot: the sum is exact, and equal on every rank
        mean = (sums.sum() / max(rows.total, 1)).float().to(loss.device)
        gather = lambda t: self.gather_rows(t.detach(), rows)  # noqa: E731
        return mean, da.map_structure(gather, y), da.map_structure(gather, y_pred), da.map_structure(gather, sw)

    def gather_outputs(self, outputs: list, n: int) -> Any:
        """One batch of ``predict`` outputs (this rank's pieces) as the whole batch, on every rank."""
        rows = self.rows(n)
        if len(outputs) > 1:
            first = outputs[0]
            if isinstance(first, dict):
                joined = {k: torch.cat([o[k] for o in outputs]) for k in first}
            elif isinstance(first, (list, tuple)):
                joined = [torch.cat([o[i] for o in outputs]) for i in range(len(first))]
            else:
                joined = torch.cat(outputs)
        else:
            joined = outputs[0]
        return da.map_structure(lambda t: self.gather_rows(t, rows), joined)

    def broadcast_int(self, value: int) -> int:
        """Rank 0's ``value`` on every rank (the shuffle seed must be one for all)."""
        t = torch.tensor([value], dtype=torch.int64, device=self._comm_device())
        dist.broadcast(t, src=0)
        return int(t.item())


class ShardedBatches:
    """A data adapter's batches cut to one rank's share; steps, sizes and order stay those of the global batches."""

    def __init__(self, data: Any, replicas: Replicas) -> None:
        self.data, self.replicas = data, replicas
        self.steps, self.num_samples = data.steps, data.num_samples
        self.batch_size, self.seed = getattr(data, "batch_size", None), getattr(data, "seed", None)

    def iterate(self, epoch: int = 0, start_batch: int = 0, steps: int | None = None) -> Iterator[tuple]:
        for batch in self.data.iterate(epoch, start_batch, steps):
            n = len(da.flatten(batch[0])[0])
            lo, hi = self.replicas.rows_of(n)
            # An empty share (a last batch smaller than the world) still runs one row, weighted 0: every rank must
            # join each step's collectives.
            self.replicas.borrowed = hi == lo
            if hi == lo:
                lo, hi = 0, 1
            yield tuple(da.map_structure(lambda t, lo=lo, hi=hi: t[lo:hi], part) for part in batch)
        self.replicas.borrowed = False

    def first_batch(self) -> tuple:
        return self.data.first_batch()


def replicas_for(device: torch.device) -> tuple[Replicas | None, torch.device]:
    """The data parallelism in effect for a run on ``device`` (None in a single process), and the process's device.

    Joins the launcher's process group the first time (gloo on CPU, NCCL on CUDA).

    Example:
        >>> replicas_for(torch.device("cpu"))
        (None, device(type='cpu'))
    """
    strategy = active_data_parallel()
    if strategy is None:
        return None, device
    device = process_device(device)
    return Replicas(strategy, device), device


def local_rows(replicas: Replicas | None, n: int) -> Rows:
    """The row split of a batch of which this process holds ``n`` rows (all of it without replicas)."""
    return Rows(n, [n]) if replicas is None else replicas.rows(n)


__all__ = ["Replicas", "Rows", "ShardedBatches", "local_rows", "replicas_for"]
