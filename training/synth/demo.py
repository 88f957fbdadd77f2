"""Render the bundled demo clip ``rtmir/data/demo.flac`` (and its labels next to it, optionally).

A multi-track piece (drums, bass, chords, a monophonic melody on top) rendered with the validation
soundfont, MuseScore_General, mixed to mono 16-bit FLAC at 44.1 kHz and peak-normalized to -1 dBFS.
The melody is mixed 8 dB (RMS) above the accompaniment so a pitch tracker follows it.

    python -m training.synth.demo --out rtmir/data/demo.flac
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .arrange import generate_multi
from .gm import BY_PROGRAM
from .labels import make_labels
from .render import RenderConfig, Renderer, measure_onset_offset, render_stems
from .soundfonts import resolve_soundfont

MELODY_GAIN_DB = 8.0
"""RMS level of the melody stem above the accompaniment (all other stems) in the demo mix, dB."""


def render_demo(seed: int, seconds: float, melody_program: int, chords_program: int, style: str,
                soundfont: str) -> tuple[np.ndarray, dict]:
    """The demo mix ``[n_samples]`` float32 at 44.1 kHz and its metadata (incl. f0 labels)."""
    sr = 44100
    rng = np.random.default_rng(seed)
    score = generate_multi(rng, seconds, melody=BY_PROGRAM[melody_program], style_name=style, pad=False,
                           comping=BY_PROGRAM[chords_program])
    path = resolve_soundfont(soundfont)
    renderer = Renderer(RenderConfig(sr))
    offset = measure_onset_offset(path, renderer)
    stems = render_stems(score, path, renderer, offset, int(round(seconds * sr)))
    renderer.close()
    accompaniment = sum(audio for name, audio in stems.items() if name != "melody")
    rms = lambda x: float(np.sqrt(np.mean(np.square(x)))) + 1e-12  # noqa: E731
    gain = 10 ** (MELODY_GAIN_DB / 20) * rms(accompaniment) / rms(stems["melody"])
    mix = (gain * stems["melody"] + accompaniment).mean(axis=0)
    mix *= 10 ** (-1 / 20) / max(1e-9, float(np.abs(mix).max()))
    labels = make_labels(score, seconds)
    meta = {"seed": seed, "seconds": seconds, "soundfont": soundfont, "onset_offset_samples": offset,
            "score": score.meta, "melody_gain_db": MELODY_GAIN_DB,
            "melody_f0_hz_100fps": [round(float(f), 3) for f in labels.f0["melody"]]}
    return mix.astype(np.float32), meta


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m training.synth.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("rtmir/data/demo.flac"), help="output FLAC")
    ap.add_argument("--seed", type=int, default=1, help="generator seed")
    ap.add_argument("--seconds", type=float, default=16.0, help="length, seconds")
    ap.add_argument("--melody-program", type=int, default=73, help="GM program of the melody (73 = flute)")
    ap.add_argument("--chords-program", type=int, default=0, help="GM program of the chords (0 = piano)")
    ap.add_argument("--style", default="bossa", help="drum style (see training.synth.drums.STYLES)")
    ap.add_argument("--soundfont", default="MuseScore_General", help="soundfont name or path")
    ap.add_argument("--labels", type=Path, default=None, help="also write metadata + f0 labels (JSON)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        mix, meta = render_demo(args.seed, args.seconds, args.melody_program, args.chords_program,
                                 args.style, args.soundfont)
    except (OSError, RuntimeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sf.write(args.out, mix, 44100, format="FLAC", subtype="PCM_16")
    if args.labels:
        args.labels.write_text(json.dumps(meta, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {meta['score']['instruments']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
