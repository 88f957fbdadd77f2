"""``python -m training.pitch.ship CKPT MEASURE.json --out rtmir/zoo/pitch-tcn.onnx --version V``.

Exports a trained pitch checkpoint with the card the zoo needs: the training record of every
stage (followed back through each checkpoint's ``init_checkpoint``, newest last), how the file
was exported, and the figures ``python -m training.pitch.measure`` wrote (validation clips, the
voicing threshold it chose, RPA/RCA/OA/VR/VFA per condition, CPU s per s of audio).
``PitchProcessor`` reads ``voicing_threshold`` from the card. Export verifies the graph before
writing (``export.export_model``); nothing is written when it fails. Exit codes: 0 written,
2 bad checkpoint, measure file or export (one line on stderr).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data import CONDITIONS



def evaluation_fields(measure: dict, latency_ms: float, hop_ms: float) -> dict[str, float]:
    """The card's ``evaluation``: numbers only, keys ``rpa``, ``rpa_white10``, ... (4 decimals)."""
    ev = {"val_clips": measure["clips"], "voicing_threshold": measure["voicing_threshold"],
          "latency_ms": latency_ms, "hop_ms": hop_ms}
    for cond in CONDITIONS:
        sfx = "" if cond == "clean" else f"_{cond}"
        for k in ("rpa", "rca", "oa", "vr", "vfa"):
            if cond in measure:
                ev[f"{k}{sfx}"] = round(float(measure[cond][k]), 4)
    if "cpu" in measure:
        ev["cpu_s_per_audio_s"] = round(float(measure["cpu"]["cpu_s_per_audio_s"]), 4)
    return ev


def training_stages(checkpoint: str) -> list[dict]:
    """The training record of ``checkpoint`` and of every checkpoint it started from, oldest first."""
    from export.checkpoint import training_info

    stages, seen, path = [], set(), checkpoint
    while path and path not in seen and Path(path).is_file():
        seen.add(path)
        info = training_info(path)
        stages.append({"checkpoint": path, "command": info.get("command", ""), "steps": info.get("steps"),
                       "train_minutes": info.get("train_minutes"), "date": info.get("date"),
                       "git_commit": info.get("git_commit"), "history": info.get("history", [])})
        path = info.get("config", {}).get("init_checkpoint", "")
    return stages[::-1]


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
    from export import CardFields, ExportError, export_model
    from export.__main__ import export_provenance
    from export.checkpoint import CheckpointError, load_checkpoint, training_info

    try:
        measure = json.loads(Path(args.measure).read_text())
        model = load_checkpoint(args.checkpoint)
        info = training_info(args.checkpoint)
        training = {**info, "stages": training_stages(args.checkpoint),
                    "export": export_provenance(argv, program="python -m training.pitch.ship"),
                    "figures": args.figures_command}
        ev = evaluation_fields(measure, 1000.0 * model.latency_samples / model.sample_rate, 1000.0 * model.hop / model.sample_rate)
        card = export_model(model, CardFields(name=args.name, task="pitch", version=args.version,
                                              description=args.description, training=training, evaluation=ev), args.out)
    except (OSError, KeyError, json.JSONDecodeError, CheckpointError, ExportError) as exc:
        print(f"ship: {exc}; nothing written", file=sys.stderr)
        return 2
    print(json.dumps(card.evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
