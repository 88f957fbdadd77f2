"""``python -m training.pitch.ship CKPT MEASURE.json --out rtmir/zoo/pitch-tcn.onnx --version V``.

Exports a trained pitch checkpoint with the card the zoo needs (``training.core.ship``): the
training record of every stage (followed back through each checkpoint's ``init_checkpoint``,
newest last), how the file was exported, and the figures ``python -m training.pitch.measure``
wrote (validation clips, the voicing threshold it chose, RPA/RCA/OA/VR/VFA per condition, CPU s
per s of audio). ``PitchProcessor`` reads ``voicing_threshold`` from the card. Export verifies
the graph before writing (``export.export_model``); nothing is written when it fails. Exit
codes: 0 written, 2 bad checkpoint, measure file or export (one line on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.core.conditions import is_condition
from training.core.ship import training_stages

__all__ = ["evaluation_fields", "main", "training_stages"]


def evaluation_fields(measure: dict, latency_ms: float, hop_ms: float) -> dict[str, float]:
    """The card's ``evaluation``: numbers only, keys ``rpa``, ``rpa_white10``, ... (4 decimals),
    for every condition the measure file holds, in its order."""
    ev = {"val_clips": measure["clips"], "voicing_threshold": measure["voicing_threshold"],
          "latency_ms": latency_ms, "hop_ms": hop_ms}
    for cond in (k for k in measure if is_condition(k)):
        sfx = "" if cond == "clean" else f"_{cond}"
        for k in ("rpa", "rca", "oa", "vr", "vfa"):
            ev[f"{k}{sfx}"] = round(float(measure[cond][k]), 4)
    if "cpu" in measure:
        ev["cpu_s_per_audio_s"] = round(float(measure["cpu"]["cpu_s_per_audio_s"]), 4)
    return ev


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.pitch.ship", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="best.safetensors of the last training stage")
    ap.add_argument("measure", help="the JSON of python -m training.pitch.measure on the candidate export")
    ap.add_argument("--out", default="rtmir/zoo/pitch-tcn.onnx")
    ap.add_argument("--name", default="pitch-tcn")
    ap.add_argument("--version", required=True)
    ap.add_argument("--description", default="")
    ap.add_argument("--figures-command", default="", help="the measure command line, recorded in the card")
    args = ap.parse_args(argv)
    from export import ExportError
    from export.checkpoint import CheckpointError
    from training.core.ship import ship_checkpoint

    try:
        measure = json.loads(Path(args.measure).read_text())
        card = ship_checkpoint(
            args.checkpoint, args.out, name=args.name, task="pitch", version=args.version,
            description=args.description, figures_command=args.figures_command,
            program="python -m training.pitch.ship", argv=argv,
            evaluation=lambda model: evaluation_fields(measure, 1000.0 * model.latency_samples / model.sample_rate,
                                                       1000.0 * model.hop / model.sample_rate))
    except (OSError, KeyError, json.JSONDecodeError, CheckpointError, ExportError) as exc:
        print(f"ship: {exc}; nothing written", file=sys.stderr)
        return 2
    print(json.dumps(card.evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
