"""One ``fit`` of the toy task per rank, for ``test_distributed.py`` (run under torchrun or alone).

Each rank trains with ``out_dir = OUT/rank<r>`` (no shared files: only rank 0 may write) and
writes ``REPORT/rank<r>.json``: for every step the sha256 of the weights the loss saw, the sample
indices it trained on and the epoch (``batches()`` calls in this process), then the
``RunResult`` and the names of the threads left once ``fit`` returned. A simulated interruption
(``--crash-after``) is reported, not raised, so that the report is written.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/training/core/ddp_toy_run.py \\
        --out OUT --report REPORT --max-steps 12
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tests.training.core.toy_task import Crash, ToyConfig, ToyTask
from training.core.distributed import make_loader
from training.core.loop import LoopConfig, fit


def weights_sha(model: nn.Module) -> str:
    """sha256 of the concatenated parameter bytes."""
    return hashlib.sha256(torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().tobytes()).hexdigest()


class ShardedToyTask(ToyTask):
    """The toy regression read through ``make_loader``, recording what each step saw."""

    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.steps: list[dict[str, Any]] = []
        self.epochs = 0

    def batches(self, model: nn.Module):
        self.epochs += 1
        data = TensorDataset(self.x, self.y, torch.arange(len(self.x)))
        return make_loader(data, batch_size=self.config.batch_size, shuffle=True, drop_last=True, seed=5)

    def loss(self, model: nn.Module, batch: Any):
        x, y, index = batch
        self.steps.append({"weights": weights_sha(model), "indices": index.tolist(), "epoch": self.epochs})
        return super().loss(model, (x, y))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--max-steps", type=int, default=12)
    ap.add_argument("--crash-after", type=int, default=0, help="batches trained before a simulated interruption")
    ap.add_argument("--nan-on-rank1", type=int, default=0, help="this batch's loss is NaN on rank 1 only")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rank = int(os.environ.get("RANK", 0))  # torchrun's; fit joins the process group
    nan = (args.nan_on_rank1,) if args.nan_on_rank1 and rank == 1 else ()
    task = ShardedToyTask(ToyConfig(crash_after_batches=args.crash_after, nan_at_batches=nan))
    config = LoopConfig(out_dir=str(Path(args.out) / f"rank{rank}"), seed=3, lr=0.3, warmup_steps=2,
                        max_steps=args.max_steps, schedule="steps", max_minutes=10.0, val_every_minutes=1e6,
                        val_every_steps=5, patience=100, threads=2, resume_every_minutes=0.0, best_name="best.pt")
    report: dict[str, Any] = {"rank": rank}
    try:
        result = fit(task, config, {"config": {"toy": "ddp"}})
        report["result"] = {"steps": result.steps, "losses": result.losses, "history": result.history,
                            "best_path": str(result.best_path) if result.best_path else None,
                            "skipped_steps": result.skipped_steps, "resumed_at_step": result.resumed_at_step}
    except Crash:
        report["crashed"] = True
    report["steps"] = task.steps
    tasks = Path("/proc/self/task")  # Linux: the names of this process's threads, gloo's included
    report["threads"] = [(t / "comm").read_text().strip() for t in tasks.iterdir()] if tasks.is_dir() else None
    Path(args.report).mkdir(parents=True, exist_ok=True)
    (Path(args.report) / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
