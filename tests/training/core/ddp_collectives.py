"""The helpers of ``training.core.distributed`` on 2 ranks, for ``test_distributed.py``.

Each rank writes ``OUT/rank<r>.json`` with what it ended with:

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/training/core/ddp_collectives.py OUT
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

from training.core import distributed as ddp


def main(out: Path) -> None:
    world = ddp.init_world()
    r = world.rank
    torch.manual_seed(r)
    model = nn.Linear(2, 1)  # different weights on each rank until the broadcast
    model.register_buffer("count", torch.tensor([10.0 + r]))
    ddp.broadcast_module(model, world)
    weights = [p.detach().flatten().tolist() for p in model.parameters()] + [model.count.tolist()]
    # gradients: "used" on both ranks, "one" on rank 1 only, "none" on neither
    used, one, none = (nn.Parameter(torch.zeros(2)) for _ in range(3))
    used.grad = torch.tensor([1.0, 2.0]) * (r + 1)
    if r == 1:
        one.grad = torch.tensor([4.0, 6.0])
    loss = ddp.average_gradients([used, one, none], world, torch.tensor(3.0 * (r + 1)))
    report = {"rank": r, "world_size": world.world_size, "backend": world.backend, "weights": weights,
              "used": used.grad.tolist(), "one": one.grad.tolist(), "none": none.grad is None, "loss": float(loss),
              "max": ddp.agree_max(float(r), world), "object": ddp.broadcast_object({"from": r}, world),
              "gathered": ddp.gather_object(r * 10, world)}
    ddp.close_world(world, finished=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{r}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
