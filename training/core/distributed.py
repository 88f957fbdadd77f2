"""Data-parallel training under ``torchrun``: the process group, gradient averaging, shards.

``torchrun --nproc_per_node=N -m training.<task> --config FILE`` starts N processes (ranks) with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in their environment; ``init_world`` joins them into
one ``torch.distributed`` process group: gloo; where every local rank has a GPU, gloo for CPU
tensors and NCCL for CUDA tensors (``"cpu:gloo,cuda:nccl"``: the tasks train on the CPU today, and
NCCL cannot reduce CPU tensors). Run without torchrun (or with one process) nothing is initialised and
every helper here is a no-op, so a 1-process run is exactly what it was before.

Why not ``torch.nn.parallel.DistributedDataParallel``: the tasks' ``loss`` calls model methods
other than ``forward`` (pitch ``model.logits``, codec ``model._encode_frames``), which the
wrapper's gradient hooks do not see through its ``forward``. ``average_gradients`` after
``backward`` gives DDP's semantics (the mean of every rank's gradient; a parameter unused on a
rank counts as a zero gradient there) with one flattened all-reduce per step, and
``broadcast_module`` plays DDP's ``broadcast_buffers`` (rank 0's buffers win).
"""
from __future__ import annotations

import datetime
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

# rank 0 validates (minutes on a big validation set) while the others wait in a broadcast
_TIMEOUT = datetime.timedelta(minutes=60)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run.

    Attributes:
        rank: 0 .. world_size - 1 (rank 0 validates and writes the files).
        world_size: processes training together (1: not distributed).
        local_rank, local_world_size: the same on this machine (threads and GPUs are shared there).
        backend: the process group's backend ("" when not distributed).
        owned: ``init_world`` initialised the group, so ``close_world`` destroys it.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str = ""
    owned: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_world() -> World:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1), or
    reuse one already initialised; else a single-process ``World`` with nothing initialised."""
    env = os.environ
    local = dict(local_rank=int(env.get("LOCAL_RANK", 0)), local_world_size=int(env.get("LOCAL_WORLD_SIZE", 1)))
    owned = False
    if not dist.is_initialized():
        if int(env.get("WORLD_SIZE", 1)) <= 1:
            return World()
        # NCCL for CUDA tensors needs a GPU per rank on this machine; CPU tensors (the loop's today) go by gloo
        gpus = torch.cuda.is_available() and torch.cuda.device_count() >= local["local_world_size"]
        backend = "cpu:gloo,cuda:nccl" if gpus else "gloo"
        if gpus:
            torch.cuda.set_device(local["local_rank"])
        # The optimisers' first step imports torch._dynamo and torch._inductor; imported while a process
        # group exists, they keep it alive past destroy_process_group, and gloo's threads left running
        # then abort the interpreter's exit now and then ("terminate called without an active
        # exception"). Imported before, they do not.
        importlib.import_module("torch._dynamo")
        dist.init_process_group(backend, timeout=_TIMEOUT)
        owned = True
    if dist.get_world_size() <= 1:
        return World(backend=str(dist.get_backend()), owned=owned)
    return World(dist.get_rank(), dist.get_world_size(), backend=str(dist.get_backend()), owned=owned, **local)


def close_world(world: World, finished: bool) -> None:
    """Destroy the process group if ``init_world`` initialised it.

    Args:
        finished: every rank got here in step (a normal end): wait for all of them first, so that
            none closes its connections while another still reads the last collective. False
            after an error, which another rank may not share (it would wait forever).
    """
    if world.owned and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of ``rank``'s random stream: ``seed`` itself on rank 0 (the stream of a 1-process
    run), a distinct 32-bit seed derived from ``(seed, rank)`` elsewhere."""
    return seed if rank == 0 else int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def process_rank() -> int:
    """This process's rank in the initialised process group (0 when not distributed), for data
    that must differ per rank beyond its shard (e.g. a dataset with its own generator)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def average_gradients(params: Iterable[nn.Parameter], world: World, loss: torch.Tensor) -> torch.Tensor:
    """Replace every gradient by its mean over the ranks; returns the mean ``loss`` (detached).

    One all-reduce of one flat buffer: the gradients (zeros where a rank has none), one "has a
    gradient" flag per parameter (a parameter no rank gave a gradient keeps ``grad is None``, so
    the optimiser skips it as it would on one process) and the loss. Every rank ends with the
    same bits. On one process: nothing changes and ``loss.detach()`` is returned.

    Raises:
        ValueError: the parameters are not all of one dtype and device.
    """
    if not world.distributed:
        return loss.detach()
    params = [p for p in params if p.requires_grad]
    kinds = {(p.dtype, p.device) for p in params}
    if len(kinds) != 1:
        raise ValueError(f"average_gradients: parameters of one dtype and device only, not {sorted(map(str, kinds))}")
    (dtype, device), = kinds
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    has = torch.tensor([p.grad is not None for p in params], dtype=dtype, device=device)
    flat = torch.cat([*grads, has, loss.detach().reshape(1).to(dtype=dtype, device=device)])
    dist.all_reduce(flat)  # SUM
    flat /= world.world_size
    offset, flags = 0, flat[-1 - len(params):-1]
    for p, flag in zip(params, flags.tolist()):
        mean = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
        if flag > 0:
            p.grad = mean.clone()
    return flat[-1]


def _broadcast_tensors(tensors: list[torch.Tensor]) -> None:
    """Overwrite ``tensors`` with rank 0's, one broadcast per dtype and device."""
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    with torch.no_grad():
        for group in groups.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            dist.broadcast(flat, src=0)
            offset = 0
            for t in group:
                t.copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()


def broadcast_module(model: nn.Module, world: World, buffers_only: bool = False) -> None:
    """Give every rank rank 0's parameters and buffers (at the start), or only its buffers (after
    each optimiser step, as DDP's ``broadcast_buffers``: e.g. batch-norm statistics are rank 0's).
    No-op on one process."""
    if not world.distributed:
        return
    tensors = [] if buffers_only else [p.data for p in model.parameters()]
    _broadcast_tensors(tensors + [b.data for b in model.buffers()])


def agree_max(value: float, world: World) -> float:
    """The largest ``value`` over the ranks (e.g. elapsed seconds, so that every rank uses the
    same learning rate and stops or validates at the same step); ``value`` on one process."""
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t[0])


def broadcast_object(obj: Any, world: World) -> Any:
    """Rank 0's ``obj`` (any picklable object; the others pass anything) on every rank."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_object(obj: Any, world: World) -> list[Any] | None:
    """Every rank's ``obj`` in rank order on rank 0, None on the others."""
    if not world.distributed:
        return [obj]
    out = [None] * world.world_size if world.rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def shard_sampler(dataset: Dataset, shuffle: bool, seed: int, drop_last: bool) -> DistributedSampler | None:
    """A ``DistributedSampler`` giving this rank its shard of ``dataset`` (the same number of
    examples on every rank: the tail is dropped with ``drop_last``, else padded with repeats), or
    None when not distributed. The loop calls its ``set_epoch`` before every epoch."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return None
    return DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, drop_last: bool, num_workers: int = 0,
                persistent_workers: bool = False, seed: int = 0) -> DataLoader:
    """The tasks' training ``DataLoader``.

    On one process exactly ``DataLoader(dataset, batch_size=, shuffle=, drop_last=, num_workers=,
    persistent_workers=)`` (the same batches as ever). Under torchrun each rank reads its shard
    (``shard_sampler``, shuffled by ``seed`` and the epoch): the same number of batches on every
    rank; ``drop_last`` then applies only where a shard holds at least one whole batch (as the
    tasks ask for: drop the partial batch unless that leaves none).
    """
    sampler = shard_sampler(dataset, shuffle, seed, drop_last)
    if sampler is None:
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                          num_workers=num_workers, persistent_workers=persistent_workers)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      drop_last=drop_last and len(sampler) >= batch_size, persistent_workers=persistent_workers)
