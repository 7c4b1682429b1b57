"""torch.distributed helpers: replica defaults and collectives that are no-ops alone."""

from __future__ import annotations

import numbers

import torch
import torch.distributed as dist

__all__ = ["all_reduce_sum", "broadcast", "is_distributed", "replica_info"]


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def replica_info(num_replicas, rank) -> tuple[int, int]:
    """``(num_replicas, rank)``: given values, else the process group's, else ``(1, 0)``."""
    if num_replicas is None:
        num_replicas = dist.get_world_size() if is_distributed() else 1
    if rank is None:
        rank = dist.get_rank() if is_distributed() else 0
    for name, v in (("num_replicas", num_replicas), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} should be an int, but got {name}={v!r}")
    if num_replicas < 1:
        raise ValueError(f"num_replicas should be a positive integer value, but got "
                         f"num_replicas={num_replicas}")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
    return int(num_replicas), int(rank)


def _device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over all ranks (returns a new CPU tensor); identity when not distributed."""
    if not is_distributed():
        return t
    buf = t.to(_device(), copy=True)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.cpu()


def broadcast(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Rank ``src``'s copy of ``t`` on every rank; identity when not distributed."""
    if not is_distributed():
        return t
    buf = t.to(_device(), copy=True)
    dist.broadcast(buf, src=src)
    return buf.cpu()
