"""A short, deterministic pitch training run, to compare two versions of the training code.

    python -m training.pitch.port_check TAG [--steps 300] [--out runs/port-check]
        → OUT/TAG.json: every step's loss and the final validation per condition

It renders a tiny dataset once (16 training, 4 validation clips of 4 s, ``training.synth``,
seeds 11/12), then trains a small pitch-tcn for a fixed number of steps (one thread, the time
budget out of reach so the schedule depends on steps only, validation at the end on clean,
white/pink noise at 10 dB and reverb). Two checkouts give bit-identical files when their
training code computes the same thing. The graph issue's port onto ``training/core`` was
checked this way against the code before it (``PYTHONPATH=<old checkout> python -m
training.pitch.port_check before``): identical losses and figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _render(out: Path, split: str, n: int, seed: int) -> None:
    from training.synth.__main__ import main as synth_main

    if not (out / f"{n - 1:06d}" / "meta.json").is_file():
        code = synth_main(["--kind", "mono", "--split", split, "--n", str(n), "--duration", "4", "--seed", str(seed),
                           "--out", str(out), "--workers", "1", "--no-augment"])
        if code:
            raise SystemExit(f"rendering {split} failed ({code})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.pitch.port_check", description=__doc__.splitlines()[0])
    p.add_argument("tag", help="name of this run's result file (e.g. before, after)")
    p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    p.add_argument("--out", type=Path, default=Path("runs/port-check"), help="data and results folder")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from models.pitch import PitchTCNConfig
    from training.pitch.config import TrainConfig
    from training.pitch.train import train

    train_dir, val_dir = args.out / "data" / "train", args.out / "data" / "val"
    _render(train_dir, "train", 16, 11)
    _render(val_dir, "val", 4, 12)
    config = TrainConfig(model=PitchTCNConfig(width=24, dilations=(1, 2, 4)), train_dir=str(train_dir),
                         val_dir=str(val_dir), cache_dir=str(args.out / f"cache-{args.tag}"),
                         out_dir=str(args.out / f"run-{args.tag}"), crop_s=1.0, batch_size=8, lr=2e-3,
                         warmup_steps=10, max_steps=args.steps, max_minutes=1e9, val_every_minutes=1e9,
                         val_clips=4, loader_workers=0, threads=1, patience=100,
                         val_conditions=("clean", "white10", "pink10", "reverb"))
    t0 = time.time()
    r = train(config, command="port_check", data_recipe="port-check")
    final = r.history[-1]
    result = {"steps": r.steps, "losses": r.losses, "history": r.history, "wall_s": time.time() - t0}
    (args.out / f"{args.tag}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({"steps": r.steps, "first_loss": r.losses[0], "last_loss": r.losses[-1],
                      "conditions": {c: {"rpa": s["rpa"], "oa": s["oa"]} for c, s in final.get("conditions", {}).items()}},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
