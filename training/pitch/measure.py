"""Figures of an exported pitch model, measured through the runtime (no torch).

    python -m training.pitch.measure rtmir/zoo/pitch-tcn.onnx --val /work/data/pitch/val-msg \
        --json /work/data/pitch/measure.json

Every clip of the validation folder (MuseScore_General), under each ``--conditions`` of
``training.core.conditions`` (default: clean, white and pink noise at 10 dB SNR, a 1 s room;
clip i seeded i), is streamed through
``PitchProcessor`` + ``BlockAdapter`` exactly as ``rtmir stream`` runs it at 16 kHz (host
block 1024). Events are scored where their instant falls on a label frame (10 ms grid) with
``metrics.score_frames``. The voicing threshold is the card's unless ``--threshold`` is given;
``--choose-threshold N`` picks the best-OA threshold on the first N clean clips first.
``--cpu-files LONG SHORT`` also times ``rtmir stream --task pitch --block N`` for each of
``--cpu-blocks`` (CPU seconds of the child process per second of audio, start-up subtracted).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from rtmir import BlockAdapter, ProcessSpec
from rtmir.session import StreamingSession
from rtmir.tasks.pitch import PitchProcessor
from training.core import conditions
from training.core.measure import stream_cpu

from .data import SAMPLE_RATE, load_split
from .metrics import calibration, on_label_grid, score_frames, within_cents

REPORTED_CONDITIONS = ("clean", "white10", "pink10", "reverb")


def stream_events(proc: PitchProcessor, audio: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stream one clip through a fresh processor; ``(t, f0_hz, confidence, voiced)`` per event."""
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(SAMPLE_RATE, block, 1))
    events = []
    for i in range(0, len(audio), block):
        events += adapter.push(audio[None, i:i + block])
    t = np.array([e.t for e in events])
    f0 = np.array([e.values["f0_hz"] for e in events])
    conf = np.array([e.values["confidence"] for e in events])
    voiced = np.array([e.values["voiced"] for e in events])
    return t, f0, conf, voiced


def collect(path: str, clips, kind: str, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per clip: (reference f0, estimated f0, confidence) on the label grid."""
    proc = PitchProcessor(StreamingSession(path))
    out = []
    for i, (x, lab) in enumerate(zip(clips.audio, clips.labels)):
        degraded = conditions.degrade(x, kind, seed + i, SAMPLE_RATE, pool=conditions.pool_without(clips.audio, i))
        t, f0, conf, _ = stream_events(proc, degraded)
        idx, ref = on_label_grid(lab, t)
        out.append((ref, f0[idx], conf[idx]))
    return out


def reliability(rows) -> dict[str, dict]:
    """Calibration of the confidence (``metrics.calibration``, 10 bins) against two events: the
    reference frame is voiced (``voiced``), and it is voiced with the estimate within 50 cents
    (``right``: what a user reading the confidence as "this pitch is right" relies on)."""
    ref = np.concatenate([r for r, _, _ in rows])
    est = np.concatenate([e for _, e, _ in rows])
    conf = np.concatenate([c for _, _, c in rows])
    return {"voiced": calibration(conf, ref > 0), "right": calibration(conf, within_cents(ref, est))}


def plot_reliability(report: dict, names, path: str) -> None:
    """Reliability diagram: per condition, bin mean confidence against the share of frames voiced
    (solid) and voiced with the pitch right (dashed); the diagonal is a calibrated confidence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="0.7", lw=1)
    for i, name in enumerate(names):
        cal = report[name]["calibration"]
        for event, style in (("voiced", "-"), ("right", "--")):
            bins = cal[event]["bins"]
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], style, marker="o", ms=3,
                    color=f"C{i}", label=f"{name} {event} (ECE {cal[event]['ece']:.3f})")
    ax.set(xlabel="confidence (bin mean)", ylabel="share of frames", xlim=(0, 1), ylim=(0, 1),
           title=f"reliability: {report['model']}")
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pooled(rows, threshold: float) -> dict[str, float]:
    ref = np.concatenate([r for r, _, _ in rows])
    est = np.concatenate([e for _, e, _ in rows])
    conf = np.concatenate([c for _, _, c in rows])
    return score_frames(ref, est, conf >= threshold)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.pitch.measure", description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an exported pitch .onnx")
    ap.add_argument("--val", default="/work/data/pitch/val-msg", help="a training.synth mono val folder")
    ap.add_argument("--cache", default="/work/data/pitch/cache", help="16 kHz clip cache folder")
    ap.add_argument("--clips", type=int, default=None, help="first N clips only")
    ap.add_argument("--conditions", default=",".join(REPORTED_CONDITIONS),
                    help=f"comma list of training.core.conditions names (e.g. {', '.join(conditions.LISTED)})")
    ap.add_argument("--threshold", type=float, help="voicing threshold (default: the card's)")
    ap.add_argument("--choose-threshold", type=int, default=0, metavar="N",
                    help="choose the best-OA threshold on the first N clean clips (0: don't)")
    ap.add_argument("--cpu-files", nargs=2, metavar=("LONG", "SHORT"),
                    help="also measure rtmir stream's CPU s per s of audio on LONG (start-up from SHORT)")
    ap.add_argument("--cpu-blocks", default="4096,1024,256",
                    help="host blocks timed with --cpu-files (the first is the card's figure)")
    ap.add_argument("--cpu-runs", type=int, default=3, help="best of this many timings per file and block")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--reliability-png", help="write the reliability diagram of every condition here (matplotlib)")
    args = ap.parse_args(argv)
    try:
        names = conditions.check([c for c in args.conditions.split(",") if c])
    except conditions.UnknownCondition as exc:
        print(f"error: --conditions: {exc}", file=sys.stderr)
        return 2
    clips = load_split(args.val, args.cache, args.clips)
    proc = PitchProcessor(StreamingSession(args.model))
    threshold = args.threshold if args.threshold is not None else proc.params()["voicing_threshold"]
    report: dict = {"model": args.model, "clips": len(clips.audio), "val": args.val}
    cache: dict[str, list] = {}
    if args.choose_threshold:
        cache["clean"] = collect(args.model, clips, "clean")
        sweep = {round(float(th), 2): pooled(cache["clean"][:args.choose_threshold], th)["oa"]
                 for th in np.arange(0.05, 0.96, 0.05)}
        threshold = max(sweep, key=sweep.get)
        report["threshold_sweep_oa"] = sweep
    report["voicing_threshold"] = threshold
    for kind in names:
        rows = cache.get(kind) or collect(args.model, clips, kind)
        report[kind] = pooled(rows, threshold) | {"calibration": reliability(rows)}
        s = report[kind]
        print(f"{kind:8s} rpa {s['rpa']:.4f} rca {s['rca']:.4f} oa {s['oa']:.4f} vr {s['vr']:.4f} vfa {s['vfa']:.4f} "
              f"ece(voiced) {s['calibration']['voiced']['ece']:.4f} ece(right) {s['calibration']['right']['ece']:.4f}",
              flush=True)
    if args.cpu_files:
        for i, block in enumerate(int(b) for b in args.cpu_blocks.split(",")):
            cpu = stream_cpu(args.model, *args.cpu_files, task="pitch", block=block, runs=args.cpu_runs) | {"block": block}
            report.setdefault("cpu_by_block", []).append(cpu)
            if i == 0:
                report["cpu"] = cpu
            print(f"cpu at block {block}: {cpu['cpu_s_per_audio_s']:.4f} s per s of audio (start-up excluded)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.reliability_png:
        plot_reliability(report, names, args.reliability_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
