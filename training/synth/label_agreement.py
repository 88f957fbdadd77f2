"""How well f0 labels agree with Praat, which never sees the MIDI: MIDI-timed against aligned.

    python -m training.synth.label_agreement --font MuseScore_General --pieces 4

For each family's instruments (``PROGRAMS``), melodies from ``arrange.generate_mono`` are rendered
alone (the validation soundfont by default) and labelled both ways (``labels.f0_track``:
note-on to note-off plus the soundfont's measured onset offset; ``aligned.aligned_f0``: from
each note's own render). Praat's autocorrelation pitch (parselmouth, the ``eval`` extra; 10 ms
steps, floor 30 Hz, ceiling 4200 Hz) is the reference. Per family, the median over clips of:

- agreement: frames where label and Praat agree — both unvoiced, or both voiced within 50 cents;
- lag: the shift (ms, label later than Praat is positive) that best matches the voicing curves;
- missed: the share of Praat-voiced frames the label calls unvoiced.

Prints a Markdown table. Measures only; writes nothing.
"""
from __future__ import annotations

import argparse

import numpy as np

from .aligned import aligned_f0, clip_ref_db, render_groups
from .arrange import generate_mono
from .gm import INSTRUMENTS
from .labels import FRAME_RATE, f0_track
from .render import RenderConfig, Renderer, measure_onset_offset, render_stems
from .soundfonts import resolve_soundfont

PROGRAMS = {"piano": 0, "chromatic percussion": 11, "organ": 19, "guitar": 25, "bass": 33,
            "strings": 40, "brass": 56, "reed": 65, "pipe": 73, "synth lead": 81}
"""One GM program per pitched family (vibraphone, church organ, steel guitar, fingered bass,
violin, trumpet, alto sax, flute, sawtooth lead)."""
MAX_LAG = 10
"""Frames searched either way for the voicing lag."""


def praat_f0(x: np.ndarray, sr: int, n_frames: int) -> np.ndarray:
    """Praat's pitch ``[n_frames]`` (Hz, 0 unvoiced) of mono ``x`` at frames k / FRAME_RATE s."""
    import parselmouth

    pitch = parselmouth.Sound(x.astype(np.float64), sampling_frequency=sr).to_pitch_ac(
        time_step=1.0 / FRAME_RATE, pitch_floor=30.0, pitch_ceiling=4200.0)
    t = np.arange(n_frames) / FRAME_RATE
    f0 = np.array([pitch.get_value_at_time(ti) for ti in t])
    return np.nan_to_num(f0, nan=0.0)


def scores(label: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """(agreement, lag ms, missed share) of one clip's label against the reference."""
    lv, rv = label > 0, ref > 0
    both = lv & rv
    cents = np.zeros(len(label))
    cents[both] = 1200 * np.abs(np.log2(label[both] / ref[both]))
    agree = (~lv & ~rv) | (both & (cents < 50))
    lags = range(-MAX_LAG, MAX_LAG + 1)
    match = [np.mean(np.roll(lv, -d)[MAX_LAG:-MAX_LAG] == rv[MAX_LAG:-MAX_LAG]) for d in lags]
    lag_ms = 1000.0 * lags[int(np.argmax(match))] / FRAME_RATE
    missed = float(np.mean(~lv[rv])) if rv.any() else 0.0
    return float(np.mean(agree)), lag_ms, missed


def measure(font: str, pieces: int, seconds: float, seed: int) -> dict[str, dict[str, list]]:
    """Per family, per convention ("midi", "aligned"): the clips' (agreement, lag, missed)."""
    sr = 44100
    renderer = Renderer(RenderConfig(sr))
    path = resolve_soundfont(font)
    offset = measure_onset_offset(path, renderer)
    n_frames, n_samples = int(round(seconds * FRAME_RATE)), int(round(seconds * sr))
    out: dict[str, dict[str, list]] = {}
    try:
        for family, program in PROGRAMS.items():
            inst = next(i for i in INSTRUMENTS if i.program == program)
            rows = out.setdefault(family, {"midi": [], "aligned": []})
            for k in range(pieces):
                rng = np.random.default_rng([seed, program, k])
                score = generate_mono(rng, seconds, inst)
                track = next(t for t in score.tracks if t.monophonic)
                stems = render_stems(score, path, renderer, offset, n_samples)
                groups = render_groups(score, track, path, renderer, offset, n_samples)
                own = stems[track.name].mean(axis=0)
                ref = praat_f0(own, sr, n_frames)
                rows["midi"].append(scores(f0_track(score, track, n_frames), ref))
                aligned = aligned_f0(score, track, groups, sr, n_frames, clip_ref_db(stems, sr, n_frames))
                rows["aligned"].append(scores(aligned, ref))
    finally:
        renderer.close()
    return out


def table(result: dict[str, dict[str, list]]) -> str:
    lines = ["| family | agreement MIDI-timed → aligned | lag ms | Praat-voiced labelled unvoiced |",
             "|---|---|---|---|"]
    allrows: dict[str, list] = {"midi": [], "aligned": []}
    for family, rows in result.items():
        med = {c: np.median(np.array(r), axis=0) for c, r in rows.items()}
        for c in allrows:
            allrows[c] += rows[c]
        lines.append(f"| {family} | {med['midi'][0]:.3f} → {med['aligned'][0]:.3f} | "
                     f"{med['midi'][1]:+.0f} → {med['aligned'][1]:+.0f} | "
                     f"{100 * med['midi'][2]:.1f} % → {100 * med['aligned'][2]:.1f} % |")
    med = {c: np.median(np.array(r), axis=0) for c, r in allrows.items()}
    lines.append(f"| **all** ({len(allrows['midi'])} clips) | {med['midi'][0]:.3f} → {med['aligned'][0]:.3f} | "
                 f"{med['midi'][1]:+.0f} → {med['aligned'][1]:+.0f} | "
                 f"{100 * med['midi'][2]:.1f} % → {100 * med['aligned'][2]:.1f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="f0 labels against Praat: MIDI-timed vs aligned.")
    parser.add_argument("--font", default="MuseScore_General", help="soundfont (default: the validation one)")
    parser.add_argument("--pieces", type=int, default=4, help="melodies per family (default 4)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each melody (default 8)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(table(measure(args.font, args.pieces, args.seconds, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
