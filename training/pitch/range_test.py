"""The range test of pitch v2 (#13): every semitone from B0 (30.9 Hz) to C8 (4186 Hz), through the
runtime exactly as ``rtmir stream`` runs it (44.1 kHz file rate, block 4096).

    python -m training.pitch.range_test                    # the shipped pitch model and YIN
    python -m training.pitch.range_test --task yin --lo 23 --hi 108
    python -m training.pitch.range_test --task pitch --model CANDIDATE.onnx

Signals, 1.2 s each at 0.5 amplitude (−6 dBFS) after 0.3 s of silence: a sine, a band-limited
sawtooth, and General MIDI instruments rendered by FluidSynth (``--font``, the validation soundfont
by default) within their usual ranges (``INSTRUMENTS``). A pitch passes when ≥ 95 % of its steady
frames (from 150 ms after the onset to 100 ms before the end) are voiced within 50 cents;
"confidently wrong" counts steady frames voiced more than 50 cents off — what the issue wants
at zero outside a model's range (say unvoiced instead). Prints one row per octave and signal:
notes passing, the worst note's share right and the most confidently wrong share. Measures only.
"""
from __future__ import annotations

import argparse

import numpy as np

from rtmir.core.engine import Engine
from rtmir.tasks.registry import build_processor
from rtmir.validate.harness import Capture

RATE = 44100
LEAD_S, NOTE_S = 0.3, 1.2
#: (GM program, lowest MIDI note, highest) — bass to piccolo; piano covers A0–C8
INSTRUMENTS = {"piano": (0, 21, 108), "fingered bass": (33, 23, 55), "contrabass": (43, 23, 55),
               "tuba": (58, 26, 58), "bassoon": (70, 34, 72), "church organ": (19, 24, 96),
               "violin": (40, 55, 100), "flute": (73, 60, 96), "piccolo": (72, 74, 108), "whistle": (78, 72, 100)}


def hz(midi: int) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def tone(kind: str, midi: int) -> np.ndarray:
    """Silence then a sine or band-limited sawtooth at ``midi``, float32 mono at ``RATE``."""
    f = hz(midi)
    t = np.arange(int(NOTE_S * RATE)) / RATE
    if kind == "sine":
        x = np.sin(2 * np.pi * f * t)
    else:  # sawtooth: harmonics below 0.45 * RATE, amplitude 1/k
        ks = np.arange(1, int(0.45 * RATE / f) + 1)
        x = (np.sin(2 * np.pi * f * ks[:, None] * t[None, :]) / ks[:, None]).sum(axis=0)
        x /= np.abs(x).max()
    return np.concatenate([np.zeros(int(LEAD_S * RATE)), 0.5 * x]).astype(np.float32)


def rendered(program: int, midi: int, renderer, font) -> np.ndarray:
    """A sustained GM note, rendered by FluidSynth, float32 mono at ``RATE`` (peak 0.5)."""
    from training.synth.render import render_stems
    from training.synth.score import Note, Score, Track, tempo_us_for_bpm, ticks_for_seconds

    path, offset = font
    tempo = tempo_us_for_bpm(60)
    on, off = ticks_for_seconds(LEAD_S, tempo), ticks_for_seconds(LEAD_S + NOTE_S, tempo)
    score = Score(tempo, off + ticks_for_seconds(1.0, tempo),
                  (Track("melody", program, 0, (Note(on, off, midi, 100),), monophonic=True),))
    x = render_stems(score, path, renderer, offset, int((LEAD_S + NOTE_S) * RATE))["melody"].mean(axis=0)
    peak = float(np.abs(x).max())
    return (0.5 * x / peak if peak > 0 else x).astype(np.float32)


def track(task: str, x: np.ndarray, model: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, f0 Hz, voiced)`` per event of a fresh ``task`` processor (``model``: its ONNX, None for the
    shipped one) over ``x`` (block 4096)."""
    sink = Capture()
    engine = Engine([build_processor(task, model)], [sink])
    engine.prepare(RATE, 1, 4096)
    for i in range(0, len(x), 4096):
        engine.push(np.ascontiguousarray(x[None, i:i + 4096]))
    engine.finish()
    ev = sink.events  # (node, t, values)
    return (np.array([t for _, t, _ in ev]), np.array([v["f0_hz"] for _, _, v in ev]),
            np.array([bool(v["voiced"]) for _, _, v in ev]))


def score(task: str, x: np.ndarray, midi: int, model: str | None = None) -> tuple[float, float]:
    """(share of steady frames voiced within 50 cents, share voiced more than 50 cents off)."""
    t, f0, voiced = track(task, x, model)
    steady = (t >= LEAD_S + 0.15) & (t <= LEAD_S + NOTE_S - 0.1)
    cents = np.full(len(t), np.inf)
    ok = voiced & (f0 > 0)
    cents[ok] = 1200 * np.abs(np.log2(f0[ok] / hz(midi)))
    right = voiced & (cents < 50)
    wrong = voiced & (cents >= 50)
    n = max(int(steady.sum()), 1)
    return float(right[steady].sum() / n), float(wrong[steady].sum() / n)


def run(task: str, lo: int, hi: int, font_name: str, model: str | None = None
        ) -> dict[str, dict[int, tuple[float, float]]]:
    """Per signal, per MIDI note: ``score``."""
    from training.synth.render import RenderConfig, Renderer, measure_onset_offset
    from training.synth.soundfonts import resolve_soundfont

    out: dict[str, dict[int, tuple[float, float]]] = {"sine": {}, "sawtooth": {}}
    for midi in range(lo, hi + 1):
        for kind in ("sine", "sawtooth"):
            out[kind][midi] = score(task, tone(kind, midi), midi, model)
    renderer = Renderer(RenderConfig(RATE))
    try:
        path = resolve_soundfont(font_name)
        font = (path, measure_onset_offset(path, renderer))
        for name, (program, a, b) in INSTRUMENTS.items():
            rows = out.setdefault(name, {})
            for midi in range(max(lo, a), min(hi, b) + 1):
                rows[midi] = score(task, rendered(program, midi, renderer, font), midi, model)
    finally:
        renderer.close()
    return out


def table(task: str, result: dict[str, dict[int, tuple[float, float]]]) -> str:
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

    def note(m: int) -> str:
        return f"{names[m % 12]}{m // 12 - 1}"

    lines = [f"### {task}", "", "| signal | octave | notes ≥ 95 % right | worst note (right) | most confidently wrong |",
             "|---|---|---|---|---|"]
    for signal, rows in result.items():
        by_octave: dict[int, list[int]] = {}
        for m in rows:
            by_octave.setdefault(m // 12 - 1, []).append(m)
        for octave, ms in sorted(by_octave.items()):
            passed = sum(rows[m][0] >= 0.95 for m in ms)
            worst = min(ms, key=lambda m: rows[m][0])
            wrong = max(ms, key=lambda m: rows[m][1])
            lines.append(f"| {signal} | {note(ms[0])}–{note(ms[-1])} | {passed}/{len(ms)} | "
                         f"{note(worst)} {rows[worst][0]:.2f} | {note(wrong)} {rows[wrong][1]:.2f} |")
    total = sum(len(r) for r in result.values())
    passed = sum(v[0] >= 0.95 for r in result.values() for v in r.values())
    wrong = sum(v[1] > 0.5 for r in result.values() for v in r.values())
    lines += ["", f"{passed}/{total} (signal, note) pairs pass; {wrong} are confidently wrong on most steady frames."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The pitch range test: every semitone B0..C8.")
    parser.add_argument("--task", action="append", help="pitch, yin (repeatable; default both)")
    parser.add_argument("--lo", type=int, default=23, help="lowest MIDI note (default 23 = B0)")
    parser.add_argument("--hi", type=int, default=108, help="highest MIDI note (default 108 = C8)")
    parser.add_argument("--font", default="MuseScore_General", help="soundfont of the GM notes")
    parser.add_argument("--model", help="for --task pitch: a candidate .onnx instead of the shipped model")
    args = parser.parse_args(argv)
    for task in args.task or ["pitch", "yin"]:
        print(table(task, run(task, args.lo, args.hi, args.font, args.model if task == "pitch" else None)), flush=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
