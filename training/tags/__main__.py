"""``python -m training.tags --config training/tags/configs/tags-lstm.json [--max-minutes M] [--out-dir DIR]``.

Trains the streaming tagger on the training core (``training.core.loop``), validates it
periodically on MuseScore_General band pieces (macro ROC-AUC), keeps the best checkpoint
(``OUT_DIR/best.safetensors``, loadable by ``python -m export``). An interrupted run continues
from ``OUT_DIR/resume.pt`` when started again with the same config; ``--fresh`` discards it.
Exit codes: 0 done, 2 bad config or data (one line on stderr).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
from pathlib import Path

from .config import load_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.tags", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="JSON file of TagsConfig fields (training/tags/configs/)")
    ap.add_argument("--max-minutes", type=float, help="override the config's wall-clock budget")
    ap.add_argument("--out-dir", help="override the config's out_dir")
    ap.add_argument("--fresh", action="store_true", help="discard OUT_DIR/resume.pt of an interrupted run")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("training.core.loop").setLevel(logging.INFO)
    try:
        config = load_config(args.config)
        if args.max_minutes is not None:
            config = dataclasses.replace(config, max_minutes=args.max_minutes)
        if args.out_dir:
            config = dataclasses.replace(config, out_dir=args.out_dir)
        from .train import train  # torch is imported only once the inputs are valid

        if args.fresh:
            from training.core.loop import RESUME_FILE

            (Path(config.out_dir) / RESUME_FILE).unlink(missing_ok=True)
        command = "python -m training.tags " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
        result = train(config, command=command)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"trained {result.steps} steps in {result.minutes:.1f} min; best checkpoint: {result.best_path}")
    print(json.dumps(result.history[-1] if result.history else {}, indent=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
