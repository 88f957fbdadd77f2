"""Training step time of the pitch model on 1 process and on 2 (torchrun), on this machine.

    python -m training.core.bench_distributed [--config training/pitch/configs/pitch.json]
        [--steps 60] [--warmup 10] [--nproc 1 2] [--json FILE]

Each run trains the pitch model (``training.pitch.task.PitchTask``'s model and loss,
``loss_terms``) through ``training.core.loop.fit`` on synthetic batches: noise of the config's
batch size and crop length with random f0 labels, made before the run so that no data loading
is timed. A step's time is the time between two consecutive ``loss`` calls (forward, backward,
the gradient all-reduce, clipping, the optimiser), the first ``--warmup`` steps left out. Every
rank takes the config's batch size (as each reads its shard through ``make_loader``), so a step
of N ranks trains N times as many samples; the ranks share the config's ``threads``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "training" / "pitch" / "configs" / "pitch.json"
DISTINCT_BATCHES = 4  # synthetic batches made per rank, cycled through


def _bench_task(config: Any, n_steps: int, seed: int):
    """A ``PitchTask`` whose epoch is ``n_steps`` synthetic batches and whose ``loss`` calls are
    timed; validation and the best checkpoint are stubs."""
    import torch

    from training.core.task import Validation
    from training.pitch.data import SAMPLE_RATE
    from training.pitch.task import PitchTask

    class BenchTask(PitchTask):
        def __init__(self) -> None:
            super().__init__(config, train=None, val=None)  # no clips: the batches are synthetic
            self.times: list[float] = []

        def batches(self, model):
            g = torch.Generator().manual_seed(seed)
            samples = int(round(config.crop_s * 100)) * (SAMPLE_RATE // 100)  # as PitchCrops: on the label grid
            shape = (config.batch_size, samples // model.hop)  # f0 at each output frame
            made = [(0.1 * torch.randn(config.batch_size, 1, samples, generator=g),
                     torch.where(torch.rand(shape, generator=g) < 0.8, 80 + 900 * torch.rand(shape, generator=g), 0.0))
                    for _ in range(DISTINCT_BATCHES)]
            return [made[i % DISTINCT_BATCHES] for i in range(n_steps)]

        def loss(self, model, batch):
            self.times.append(time.perf_counter())
            return super().loss(model, batch)

        def validate(self, model):
            return Validation({"bench": {"none": 0.0}}, 0.0)

        def save_best(self, model, path, record):
            return path  # nothing to keep

    return BenchTask()


def worker(config_path: str, steps: int, warmup: int, result: str) -> None:
    """One run (every rank under torchrun); rank 0 writes its figures to ``result`` (JSON)."""
    import torch

    from training.core.loop import LoopConfig, fit
    from training.pitch.config import load_config

    config = load_config(config_path)
    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    n = warmup + steps + 1  # the last timed step ends where the next loss call starts
    task = _bench_task(config, n, seed=rank)
    with tempfile.TemporaryDirectory() as out:
        fit(task, LoopConfig(out_dir=out, seed=config.seed, lr=config.lr, warmup_steps=config.warmup_steps,
                             max_steps=n, schedule="steps", val_every_minutes=1e6,
                             threads=config.threads, resume_every_minutes=1e6))
    if rank:
        return
    step_s = [b - a for a, b in zip(task.times[warmup:], task.times[warmup + 1:])]
    mean_s = sum(step_s) / len(step_s)
    Path(result).write_text(json.dumps({
        "processes": world_size, "threads_per_rank": torch.get_num_threads(), "batch_per_rank": config.batch_size,
        "crop_s": config.crop_s, "steps_timed": len(step_s), "ms_per_step": 1000 * mean_s,
        "samples_per_s": world_size * config.batch_size / mean_s}))


def run(nproc: int, args: argparse.Namespace) -> dict[str, Any]:
    """Launch one measurement on ``nproc`` processes; returns rank 0's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        head = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    f"--nproc_per_node={nproc}"]
        cmd = [*head, "-m", "training.core.bench_distributed", "--worker", "--config", str(args.config),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--result", str(result)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not result.is_file():
            raise RuntimeError(f"{nproc}-process run failed:\n{proc.stderr[-2000:]}")
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.core.bench_distributed", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="a pitch training config (JSON)")
    ap.add_argument("--steps", type=int, default=60, help="steps timed per run")
    ap.add_argument("--warmup", type=int, default=10, help="steps before them, not timed")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="process counts to measure")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        print("error: --steps must be at least 1 and --warmup at least 0", file=sys.stderr)
        return 2
    if args.worker:
        worker(args.config, args.steps, args.warmup, args.result)
        return 0
    rows = [run(n, args) for n in args.nproc]
    base = rows[0]["samples_per_s"]
    print(f"pitch model ({args.config}), batch {rows[0]['batch_per_rank']} per rank, {rows[0]['crop_s']} s crops, "
          f"{args.steps} steps timed after {args.warmup}, {os.cpu_count()} CPUs")
    print(f"{'processes':>9} {'threads/rank':>12} {'ms/step':>9} {'samples/s':>10} {'vs first':>9}")
    for r in rows:
        print(f"{r['processes']:>9} {r['threads_per_rank']:>12} {r['ms_per_step']:>9.1f} {r['samples_per_s']:>10.2f} "
              f"{r['samples_per_s'] / base:>8.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": str(args.config), "cpus": os.cpu_count(), "runs": rows},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
