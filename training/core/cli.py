"""The command line every task's trainer shares: ``python -m training.<task> --config FILE``.

``train_main`` parses ``--config`` (a JSON file of the task's config fields), ``--max-minutes``,
``--out-dir`` and ``--fresh``, runs the task's ``train(config, command=...)`` and prints the
result. Exit codes: 0 done, 2 bad config or data (one line on stderr). ``loop_config`` maps the
fields every task config shares onto the core loop's ``LoopConfig``. Importing this module
imports no torch: the trainer is imported only once the inputs are valid.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def loop_config(config: Any):
    """The core loop's part of a task config (any dataclass with the shared fields)."""
    from .loop import LoopConfig

    return LoopConfig(out_dir=config.out_dir, seed=config.seed, lr=config.lr, weight_decay=config.weight_decay,
                      warmup_steps=config.warmup_steps, max_minutes=config.max_minutes, max_steps=config.max_steps,
                      schedule=config.schedule, val_every_minutes=config.val_every_minutes,
                      val_every_steps=config.val_every_steps, patience=config.patience, threads=config.threads)


def train_main(prog: str, description: str, load_config: Callable[[str], Any],
               trainer: Callable[[], Callable[..., Any]], argv: list[str] | None) -> int:
    """Run one training from the command line.

    Args:
        prog: e.g. ``"python -m training.pitch"``. description: the ``--help`` line.
        load_config: path -> config (raises ValueError on a bad file).
        trainer: returns the task's ``train(config, command=...)`` (a function, so that torch is
            imported only after the config was read).
    """
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--config", required=True, help="JSON file of the task's config fields")
    ap.add_argument("--max-minutes", type=float, help="override the config's wall-clock budget")
    ap.add_argument("--out-dir", help="override the config's out_dir")
    ap.add_argument("--fresh", action="store_true", help="discard OUT_DIR/resume.pt of an interrupted run")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("training.core.loop").setLevel(logging.INFO)  # one line per validation
    try:
        config = load_config(args.config)
        if args.max_minutes is not None:
            config = dataclasses.replace(config, max_minutes=args.max_minutes)
        if args.out_dir:
            config = dataclasses.replace(config, out_dir=args.out_dir)
        train = trainer()
        if args.fresh:
            from .loop import RESUME_FILE

            (Path(config.out_dir) / RESUME_FILE).unlink(missing_ok=True)
        command = f"{prog} " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
        result = train(config, command=command)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"trained {result.steps} steps in {result.minutes:.1f} min; best checkpoint: {result.best_path}")
    print(json.dumps(result.history[-1] if result.history else {}, indent=None))
    return 0


def read_config(cls: type, path: str | Path):
    """Read a task's config dataclass ``cls`` from JSON (fields left out keep their defaults; no
    code executed).

    Raises:
        ValueError: not JSON, or a field unknown to the config.
    """
    from export.checkpoint import CheckpointError, config_from_dict

    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read config {path}: {exc}") from exc
    try:
        return config_from_dict(cls, raw)
    except (CheckpointError, TypeError) as exc:
        raise ValueError(f"config {path}: {exc}") from exc
