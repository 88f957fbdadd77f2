"""Where a pitch model errs: ``python -m training.pitch.errors MODEL.onnx [--val DIR]``.

Streams every clip of a validation folder through the runtime (``measure.collect``, clean) and
sorts the reference-voiced frames whose pitch is off by more than 50 cents into kinds, as shares
of all reference-voiced frames:

- ``octave``: off by one or two octaves (±50 cents);
- ``onset<30ms`` / ``onset30-80ms``: within 3 / 3–7 label frames of a note's start (a voiced
  frame after an unvoiced one, or a step of more than 50 cents);
- ``fifth``: off by a fifth or a twelfth;
- ``other``.

Also the error rate at each of the first 10 label frames of a note, and which instruments hold
the octave errors. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

from .metrics import note_positions


def classify(ref_hz: np.ndarray, est_hz: np.ndarray) -> np.ndarray:
    """Kind of every frame (``[T]`` str): "" for right or unvoiced, else one of the module's kinds."""
    ref_hz, est_hz = np.asarray(ref_hz, float), np.asarray(est_hz, float)
    voiced = ref_hz > 0
    cents = 1200 * np.abs(np.log2(np.where(est_hz > 0, est_hz, 1.0) / np.where(voiced, ref_hz, 1.0)))
    pos = note_positions(ref_hz)
    kind = np.full(len(ref_hz), "", dtype=object)
    wrong = voiced & (cents > 50)
    near = lambda c, targets: np.any([np.abs(c - t) <= 50 for t in targets], axis=0)  # noqa: E731
    kind[wrong] = "other"
    kind[wrong & near(cents, (702, 1902))] = "fifth"
    kind[wrong & (pos < 8) & ~near(cents, (1200, 2400))] = "onset30-80ms"
    kind[wrong & (pos < 3) & ~near(cents, (1200, 2400))] = "onset<30ms"
    kind[wrong & near(cents, (1200, 2400))] = "octave"
    return kind


def summarize(rows: list[tuple[np.ndarray, np.ndarray]], instruments: list[str]) -> dict:
    """Shares of each kind, the error rate by frame of a note, octave errors by instrument."""
    counts, by_inst = collections.Counter(), collections.Counter()
    n_at, bad_at = np.zeros(10), np.zeros(10)
    voiced_total = 0
    for (ref, est), inst in zip(rows, instruments):
        ref, est = np.asarray(ref, float), np.asarray(est, float)
        kind = classify(ref, est)
        counts.update(k for k in kind if k)
        by_inst[inst] += int((kind == "octave").sum())
        voiced = ref > 0
        voiced_total += int(voiced.sum())
        pos = note_positions(ref)
        for j in range(10):
            at = voiced & (pos == j)
            n_at[j] += at.sum()
            bad_at[j] += (at & (kind != "")).sum()
    octave_total = max(1, sum(by_inst.values()))
    return {"voiced_frames": voiced_total,
            "share": {k: round(v / voiced_total, 4) for k, v in sorted(counts.items())},
            "error_rate_by_note_frame": [round(float(b / max(n, 1)), 3) for b, n in zip(bad_at, n_at)],
            "octave_by_instrument": {k: round(v / octave_total, 3) for k, v in by_inst.most_common(8)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.pitch.errors", description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an exported pitch .onnx")
    ap.add_argument("--val", default="/work/data/pitch/val-msg", help="a training.synth mono val folder")
    ap.add_argument("--cache", default="/work/data/pitch/cache", help="16 kHz clip cache folder")
    args = ap.parse_args(argv)
    from .data import load_split
    from .measure import collect

    clips = load_split(args.val, args.cache)
    rows = [(ref, est) for ref, est, _ in collect(args.model, clips, "clean")]
    instruments = [json.loads((Path(args.val) / name / "meta.json").read_text())["score"]["instrument"]
                   for name in clips.names]
    print(json.dumps(summarize(rows, instruments), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
