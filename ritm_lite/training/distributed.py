"""Several processes (GPUs, or CPU processes with gloo): set-up and the sample schedule.

Launch with ``torchrun`` — one machine::

    torchrun --nproc_per_node 4 -m ritm_lite.train --preset hrnet18_cocolvis_itermask ...

several machines (run on each, same rendezvous endpoint)::

    torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        -m ritm_lite.train ...

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup_distributed` reads
them and joins the process group (NCCL on GPUs, gloo on CPUs). The global batch is split
evenly over the processes.

**Reproducible sample schedule.** A training dataset returns the same sample for the same
``(epoch, index)`` (``dataset.set_epoch(e)``, then ``dataset[i]`` for positions
``i = 0 .. epoch_len - 1``; see :mod:`ritm_lite.data.datasets`). :class:`SampleSchedule`
hands each process its share of every global batch and can start in the middle of an epoch —
so a resumed run sees exactly the batches an uninterrupted run would have seen, with any
number of DataLoader workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> DistEnv:
    """Read torchrun's environment and join the process group if there are several processes.

    Args:
        device: ``"cuda"``, ``"cpu"`` or ``None`` (CUDA if available).
    """
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        where = torch.device("cuda", local_rank)
    else:
        where = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistEnv(rank=rank, world_size=world_size, local_rank=local_rank, device=where)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Mean of a scalar tensor over all processes (the value itself when alone)."""
    if not env.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / env.world_size


class SampleSchedule(Sampler[int]):
    """Dataset positions of one epoch for one process, in batch order.

    Args:
        epoch_len: samples per epoch (all processes together).
        batch_size: global batch size; each process takes ``batch_size / world_size``.
        env: this process's place in the run.
        start_step: first step to produce (to resume in the middle of an epoch).
    """

    def __init__(self, epoch_len: int, batch_size: int, env: DistEnv, start_step: int = 0):
        if batch_size % env.world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by {env.world_size} processes")
        self.epoch_len, self.batch_size, self.env = epoch_len, batch_size, env
        self.local_batch = batch_size // env.world_size
        self.steps = epoch_len // batch_size  # the last incomplete batch is dropped
        self.start_step = start_step

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start_step, self.steps):
            first = step * self.batch_size + self.env.rank * self.local_batch
            yield from range(first, first + self.local_batch)

    def __len__(self) -> int:
        return (self.steps - self.start_step) * self.local_batch
