"""``python -m training.synth``: build a synthetic dataset.

    python -m training.synth --kind multi --split train --n 1000 --out data/synth-multi-train
    python -m training.synth --kind mono --split val --n 200 --out data/synth-mono-val

Exit codes: 0 done, 2 bad usage or input (one line on stderr), 1 a rendering failure.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .soundfonts import SPLITS, SoundfontError, resolve_soundfont


class UsageError(Exception):
    """Bad command line: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line (no usage dump)."""

    def error(self, message: str):  # noqa: D102
        raise UsageError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the command line.

    Raises:
        UsageError: a bad option.
    """
    ap = _Parser(prog="python -m training.synth", description="Synthesize a dataset from MIDI with FluidSynth.")
    ap.add_argument("--kind", required=True, help="mono (one monophonic instrument), multi (a full band) or band (1-6 parts entering and leaving)")
    ap.add_argument("--split", required=True, help="train (FluidR3_GM, TimGM6mb) or val (MuseScore_General)")
    ap.add_argument("--n", type=int, required=True, help="number of examples")
    ap.add_argument("--out", type=Path, required=True, help="output folder (created; resumed if it exists)")
    ap.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per example (default 10)")
    ap.add_argument("--sample-rate", type=int, default=44100, help="render rate: 44100 or 48000")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes (default 2), or with --ray actors (default one per cluster CPU)")
    ap.add_argument("--ray", metavar="auto|HOST:PORT",
                    help="render on this Ray cluster (same seeds: the same dataset as a local render)")
    ap.add_argument("--no-augment", action="store_true", help="no augmentation")
    ap.add_argument("--labels", default="midi",
                    help="f0 labels: midi (note-on to note-off) or aligned (from each note's own render)")
    ap.add_argument("--soundfont", action="append", default=None,
                    help="override the split's soundfonts (name or path; repeatable)")
    args = ap.parse_args(argv)
    if args.kind not in ("mono", "multi", "band"):
        raise UsageError(f"unknown --kind {args.kind!r}: use mono, multi or band")
    if args.split not in SPLITS:
        raise UsageError(f"unknown --split {args.split!r}: use train or val")
    if args.labels not in ("midi", "aligned"):
        raise UsageError(f"unknown --labels {args.labels!r}: use midi or aligned")
    if args.sample_rate not in (44100, 48000):
        raise UsageError(f"--sample-rate {args.sample_rate} is not supported: use 44100 or 48000")
    if args.n < 1 or (args.workers is not None and args.workers < 1) or args.duration <= 0:
        raise UsageError("--n, --workers and --duration must be positive")
    if abs(args.duration * 100 - round(args.duration * 100)) > 1e-9:
        raise UsageError(f"--duration {args.duration} must be a multiple of 0.01 s")
    return args


def _check_writable(out: Path) -> None:
    """Create ``out`` and prove a file can be written there.

    Raises:
        UsageError: it cannot.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:  # cheap checks first, before the heavy imports
        args = parse_args(argv)
        fonts_wanted = tuple(args.soundfont) if args.soundfont else SPLITS[args.split]
        for name in fonts_wanted:  # fail before touching --out
            resolve_soundfont(name)
        if args.ray:
            from .cluster import check_address

            check_address(args.ray)
        _check_writable(args.out)
    except (UsageError, SoundfontError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from .build import BuildConfig, pending, run_jobs
    from .manifest import ManifestMismatch, open_manifest
    from .render import RenderError
    cfg = BuildConfig(kind=args.kind, split=args.split, seed=args.seed, duration_s=args.duration,
                      sample_rate=args.sample_rate, augment=not args.no_augment, soundfonts=fonts_wanted,
                      labels=args.labels)
    try:
        fonts = open_manifest(args.out, cfg, args.n, argv)
    except (SoundfontError, ManifestMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    todo = pending(args.out, args.n)
    print(f"{args.out}: {args.n - len(todo)} of {args.n} examples already complete; "
          f"rendering {len(todo)} with {', '.join(f.name for f in fonts)}", file=sys.stderr)
    try:
        with tqdm(total=len(todo) * cfg.duration_s, unit="s audio", unit_scale=True) as bar:
            if args.ray:
                from .cluster import run_on_ray

                run_on_ray(cfg, args.out, todo, fonts, args.ray, args.workers, progress=bar.update)
            else:
                run_jobs(cfg, args.out, todo, fonts, args.workers or 2, progress=bar.update)
    except (RenderError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # training.synth.cluster.ClusterError: no cluster at --ray auto
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
