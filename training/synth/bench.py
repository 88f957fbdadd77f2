"""Figures for docs/BENCHMARKS.md: rendering throughput and label alignment per soundfont.

    nice -n 10 python -m training.synth.bench --n 8 --duration 10 --workers 2

Throughput: ``--n`` multi-track examples of ``--duration`` s each, built end to end exactly as
``python -m training.synth`` does (generate, render every stem, augment, write FLAC + labels)
with ``--workers`` processes, per soundfont and render backend; wall time includes starting the
processes, measuring the onset offset and loading the soundfont in each process (the load time
is also shown alone). Reported as seconds of audio per wall second.

Alignment (44.1 kHz, lib backend): one 4 s monophonic clip per instrument, each rendered alone;
the share of frames within 50 cents where both the label and an independent plain YIN
(``alignment.yin``) call voiced, pooled — over 10 clearly pitched instruments, and over 30 clips
with instruments drawn from every family (there the reference's own errors on bells and
mallets count against the figure). Onset residual: ms from label onset to sound, staccato piano
and marimba notes.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr

from .alignment import agreement, gap_score, onset_residuals_ms, yin
from .arrange import generate_mono
from .build import BuildConfig, run_jobs
from .gm import BY_PROGRAM
from .labels import make_labels
from .libfluid import LibSynth
from .manifest import open_manifest
from .render import RenderConfig, Renderer, fluidsynth_version, measure_onset_offset, render_stems
from .soundfonts import FILE_NAMES, SPLITS, resolve_soundfont

CLEAR_PROGRAMS = (73, 40, 71, 56, 65, 42, 80, 24, 0, 11)
"""Flute, violin, clarinet, trumpet, alto sax, cello, square lead, nylon guitar, piano, vibraphone."""


def load_seconds(font: str) -> float:
    """Wall seconds to load a soundfont in process (paid once per worker by the lib backend)."""
    start = time.perf_counter()
    LibSynth(resolve_soundfont(font), 44100, 0.4).close()
    return time.perf_counter() - start


def throughput(font: str, backend: str, n: int, duration_s: float, workers: int) -> float:
    """Seconds of audio per wall second building ``n`` multi examples with one soundfont."""
    with tempfile.TemporaryDirectory(prefix="rtmir-bench-") as tmp:
        cfg = BuildConfig("multi", "val", seed=0, duration_s=duration_s, soundfonts=(font,))
        start = time.perf_counter()
        fonts = open_manifest(Path(tmp), cfg, n)
        run_jobs(cfg, Path(tmp), list(range(n)), fonts, workers, backend=backend)
        return n * duration_s / (time.perf_counter() - start)


def _f0_agreement(path: Path, offset: int, renderer: Renderer, programs: list[int | None]) -> tuple[float, int]:
    """Pooled agreement over one 4 s clip per program (None: drawn by the generator)."""
    sr, hits, total = renderer.config.sample_rate, 0.0, 0
    for i, program in enumerate(programs):
        inst = BY_PROGRAM[program] if program is not None else None
        score = generate_mono(np.random.default_rng(1000 + i), 4.0, instrument=inst)
        stem = render_stems(score, path, renderer, offset, 4 * sr)["melody"].mean(axis=0)
        x = soxr.resample(stem.astype(np.float64), sr, 22050)
        label = make_labels(score, 4.0).f0["melody"]
        frac, count = agreement(yin(x / (np.abs(x).max() + 1e-12), 22050, label.size), label)
        hits, total = hits + frac * count, total + count
    return hits / max(1, total), total


def alignment_row(font: str) -> dict:
    """Alignment figures of one soundfont at 44.1 kHz."""
    renderer = Renderer(RenderConfig(44100))
    path = resolve_soundfont(font)
    offset = measure_onset_offset(path, renderer)
    clear, n_clear = _f0_agreement(path, offset, renderer, list(CLEAR_PROGRAMS))
    drawn, n_drawn = _f0_agreement(path, offset, renderer, [None] * 30)
    residuals = []
    for program in (0, 12):
        score = gap_score(program)
        audio = render_stems(score, path, renderer, offset, int(score.duration_s * 44100))["melody"]
        residuals += onset_residuals_ms(score, audio, 44100)
    renderer.close()
    return {"offset": offset, "clear": clear, "n_clear": n_clear, "drawn": drawn, "n_drawn": n_drawn,
            "res_median": float(np.median(np.abs(residuals))), "res_max": float(np.max(np.abs(residuals)))}


def main(argv: list[str] | None = None) -> int:
    """Measure and print the Markdown tables; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m training.synth.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="examples per soundfont and backend")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per example")
    ap.add_argument("--workers", type=int, default=2, help="processes")
    ap.add_argument("--backends", default="lib,cli", help="comma-separated: lib, cli")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    backends = args.backends.split(",")
    fonts = list(FILE_NAMES)
    print(f"FluidSynth {fluidsynth_version()}; {args.n} multi examples x {args.duration:g} s per cell, "
          f"{args.workers} processes, 44.1 kHz, augmentation on\n")
    print("| soundfont | split | load in process (s) | "
          + " | ".join(f"throughput, {b} backend (s audio / wall s)" for b in backends) + " |")
    print("|---|---|---|" + "---|" * len(backends))
    for font in fonts:
        split = next(s for s, names in SPLITS.items() if font in names)
        cells = [f"{load_seconds(font):.1f}"]
        cells += [f"{throughput(font, b, args.n, args.duration, args.workers):.1f}" for b in backends]
        print(f"| {font} | {split} | " + " | ".join(cells) + " |", flush=True)
    print("\n| soundfont | onset offset (samples @ 44.1 kHz) | f0 within 50 c, 10 clear instruments "
          "(frames) | f0 within 50 c, 30 drawn instruments (frames) | onset residual, piano + marimba "
          "(median / max ms) |")
    print("|---|---|---|---|---|")
    for font in fonts:
        r = alignment_row(font)
        print(f"| {font} | {r['offset']} | {100 * r['clear']:.1f} % ({r['n_clear']}) | "
              f"{100 * r['drawn']:.1f} % ({r['n_drawn']}) | {r['res_median']:.1f} / {r['res_max']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
