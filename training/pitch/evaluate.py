"""``python -m training.pitch.evaluate``: our pitch model, rtmir's YIN and the peers, side by side.

    python -m training.pitch.evaluate                          # the reported run (docs/results/)
    python -m training.pitch.evaluate --n 2 --seconds 2 --methods yin --out /tmp/ev   # quick

The set: ``--n`` monophonic melodies of ``--seconds`` rendered by ``training.synth`` with the
validation soundfont (MuseScore_General, never used in training), no augmentation, seed
``--seed``; rendered on first use into ``--data``. Its references follow ``--labels`` (default
``aligned``: voiced while the note's own render is periodic and audible, ``training.synth.aligned``);
with aligned references the same seed is rendered once more with MIDI-timed labels (the audio is
identical), and every method is scored on those too, for comparison. Each clip is scored in three conditions of
``training.core.conditions`` (the registry training and validation use), drawn from seeds derived
from (seed, clip, condition):

    clean   the render                     noisy   + noise at 10 dB SNR (white/pink/brown/blue)
    reverb  synthetic room, RT60 0.3…1.2 s, direct-to-reverberant 0…6 dB (the registry's "rooms")

Every method runs in this process on one thread; its CPU time (``time.process_time``) covers
``estimate`` from mono float32 at 44.1 kHz to the track, resampling included, model loading and
warm-up excluded. Predictions are cached per (method version, clip, condition) in ``--cache``,
so adding a method re-runs only that method. Scores: ``training.pitch.eval_metrics`` (offline and
causal). Writes ``pitch_eval.md``, ``pitch_eval.json`` and ``pitch_eval.png`` into ``--out``.
Exit codes: 0 done, 2 bad usage (one line on stderr).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy/torch are imported: one thread everywhere

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import eval_plot as report  # noqa: E402
from .eval_metrics import (REGISTERS, Scores, Track, count_by_band, mean_scores, note_frame_bands,  # noqa: E402
                           pitch_right_frames, register_bands, score_track)
from .peers import METHODS, Method, MethodUnavailable, build_method  # noqa: E402
from training.core import conditions  # noqa: E402

log = logging.getLogger("training.pitch.evaluate")
REPO = Path(__file__).resolve().parents[2]
CONDITIONS = ("clean", "noisy", "reverb")
REGISTRY_NAMES = {"clean": "clean", "noisy": "noisy", "reverb": "rooms"}
"""This evaluation's condition names (kept: the published tables use them) -> the registry's."""


class UsageError(ValueError):
    """Bad command line: one line on stderr, exit code 2."""


@dataclass(frozen=True)
class Clip:
    """One validation example: mono audio (44.1 kHz), label f0 (100 frames/s), its index."""

    index: int
    audio: np.ndarray
    sample_rate: int
    ref_f0: np.ndarray
    meta: dict
    ref_f0_midi: np.ndarray | None = None  # the MIDI-timed reference of the same audio (aligned sets)

    @property
    def family(self) -> str:
        """The clip's instrument family (``training.synth.gm.FAMILIES``)."""
        notes = self.meta.get("notes") or [{}]
        return str(notes[0].get("family", "unknown"))


def condition_params(condition: str, seed: int, index: int) -> dict:
    """``training.core.conditions`` parameters of a condition for clip ``index``, drawn from
    ``[seed, index, position of the condition in CONDITIONS]`` (deterministic).

    Raises:
        ValueError: not one of ``CONDITIONS``.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}: use {', '.join(CONDITIONS)}")
    return conditions.params(REGISTRY_NAMES[condition], [seed, index, CONDITIONS.index(condition)])


def apply_condition(clip: Clip, params: dict) -> np.ndarray:
    """The clip's mono audio under ``params`` (noise SNR measured against the mix)."""
    return conditions.apply(clip.audio, clip.sample_rate, params)


def ensure_dataset(data: Path, n: int, seconds: float, seed: int, workers: int, labels: str = "midi") -> None:
    """Render the set with ``python -m training.synth`` unless ``data`` already holds it."""
    if all((data / f"{i:06d}" / "meta.json").is_file() for i in range(n)):
        return
    cmd = [sys.executable, "-m", "training.synth", "--kind", "mono", "--split", "val", "--n", str(n),
           "--duration", str(seconds), "--no-augment", "--seed", str(seed), "--workers", str(workers),
           "--labels", labels, "--out", str(data)]
    log.warning("rendering the set: %s", " ".join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError(f"rendering the set failed: {proc.stderr.strip().splitlines()[-1:]}")


def load_clips(data: Path, n: int, midi_data: Path | None = None) -> list[Clip]:
    """The first ``n`` examples of ``data``, mixes downmixed to mono (with ``midi_data``'s
    MIDI-timed references of the same clips).

    Raises:
        UsageError: ``midi_data``'s audio differs from ``data``'s (not the same seed).
    """
    import soundfile as sf

    clips = []
    for i in range(n):
        folder = data / f"{i:06d}"
        audio, sr = sf.read(folder / "mix.flac", dtype="float32", always_2d=True)
        ref = np.load(folder / "labels.npz")["f0_melody"].astype(np.float64)
        midi = None
        if midi_data is not None:
            twin = midi_data / f"{i:06d}"
            if (twin / "mix.flac").read_bytes() != (folder / "mix.flac").read_bytes():
                raise UsageError(f"{twin}: not the audio of {folder} (render both with the same seed)")
            midi = np.load(twin / "labels.npz")["f0_melody"].astype(np.float64)
        clips.append(Clip(i, audio.mean(axis=1), int(sr), ref, json.loads((folder / "meta.json").read_text()), midi))
    return clips


def run_method(method: Method, clips: list[Clip], conditions: list[str], seed: int, cache: Path,
               set_id: str) -> dict:
    """Tracks of ``method`` on every clip × condition (cached), with CPU seconds.

    Returns:
        {"tracks": {(clip, condition): Track}, "cpu_s": float, "audio_s": float, "cached": int}
    """
    out = {"tracks": {}, "cpu_s": 0.0, "audio_s": 0.0, "cached": 0, "mtimes": []}
    folder = cache / set_id / method.cache_key()
    folder.mkdir(parents=True, exist_ok=True)
    for cond in conditions:
        for clip in clips:
            params = condition_params(cond, seed, clip.index)
            tag = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
            path = folder / f"{clip.index:06d}-{cond}-{tag}.npz"
            if path.is_file():
                z = np.load(path)
                track = Track(z["times"], z["f0_hz"], z["voiced"], z["confidence"])
                cpu, secs = float(z["cpu_s"]), float(z["audio_s"])
                method.lookahead_s = None if np.isnan(z["lookahead_s"]) else float(z["lookahead_s"])
                out["cached"] += 1
            else:
                audio = apply_condition(clip, params)
                start = time.process_time()
                track = method.estimate(audio, clip.sample_rate)
                cpu, secs = time.process_time() - start, len(audio) / clip.sample_rate
                la = np.nan if method.lookahead_s is None else method.lookahead_s
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, times=track.times, f0_hz=track.f0_hz, voiced=track.voiced,
                         confidence=track.confidence, cpu_s=cpu, audio_s=secs, lookahead_s=la)
                tmp.rename(path)
            out["mtimes"].append(path.stat().st_mtime)
            out["tracks"][(clip.index, cond)] = track
            out["cpu_s"] += cpu
            out["audio_s"] += secs
    return out


def _utc(timestamp: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def score_method(method: Method, run: dict, clips: list[Clip], conditions: list[str],
                 right: dict | None = None) -> dict:
    """Per condition: mean offline and causal scores, the per-clip ones, and raw pitch accuracy
    by frame of the note (``by_note_frame``: pooled over clips, per ``NOTE_FRAME_BANDS``).
    ``right``, if given, receives each (clip, condition)'s offline per-frame verdicts."""
    result = {}
    for cond in conditions:
        per_clip = {"offline": [], "causal": []}
        hits = {"offline": 0, "causal": 0}
        voiced = 0
        for clip in clips:
            track = run["tracks"][(clip.index, cond)]
            per_clip["offline"].append(score_track(clip.ref_f0, track, method.lookahead_s, causal=False))
            per_clip["causal"].append(score_track(clip.ref_f0, track, method.lookahead_s, causal=True))
            band = note_frame_bands(clip.ref_f0)
            for scoring in hits:  # offline first: never None, it counts the voiced frames
                ok = pitch_right_frames(clip.ref_f0, track, method.lookahead_s, causal=scoring == "causal")
                if ok is None:
                    hits[scoring] = None
                    continue
                h, v = count_by_band(ok, band)
                if scoring == "offline":
                    voiced = voiced + v
                    if right is not None:
                        right[(clip.index, cond)] = ok
                hits[scoring] = None if hits[scoring] is None else hits[scoring] + h
        result[cond] = {
            **_breakdowns(method, run, clips, cond),
            "clips": [c.index for c in clips],
            "offline": mean_scores(per_clip["offline"]),
            "causal": mean_scores(per_clip["causal"]) if per_clip["causal"][0] is not None else None,
            "per_clip": {k: [s.as_dict() if isinstance(s, Scores) else None for s in v] for k, v in per_clip.items()},
            "by_note_frame": {"voiced_frames": [int(v) for v in voiced],
                              **{k: None if h is None else [float(x) for x in h / np.maximum(voiced, 1)]
                                 for k, h in hits.items()}},
        }
    return result


def _breakdowns(method: Method, run: dict, clips: list[Clip], cond: str) -> dict:
    """Raw pitch accuracy by register (``REGISTERS``) and by instrument family, offline and causal
    (pooled over frames), and the mean scores on the MIDI-timed references where the clips have them."""
    out: dict = {"by_register": {}, "by_family": {}}
    for scoring in ("offline", "causal"):
        if scoring == "causal" and method.lookahead_s is None:
            continue  # no finite look-ahead: no causal score (as in score_track)
        reg_hits = reg_voiced = 0
        fam: dict[str, list[int]] = {}
        for clip in clips:
            ok = pitch_right_frames(clip.ref_f0, run["tracks"][(clip.index, cond)], method.lookahead_s,
                                    causal=scoring == "causal")
            h, v = count_by_band(ok, register_bands(clip.ref_f0), len(REGISTERS))
            reg_hits, reg_voiced = reg_hits + h, reg_voiced + v
            f = fam.setdefault(clip.family, [0, 0])
            f[0], f[1] = f[0] + int(ok.sum()), f[1] + int((clip.ref_f0 > 0).sum())
        out["by_register"][scoring] = {name: (float(h / v) if v else None, int(v))
                                       for (name, _, _), h, v in zip(REGISTERS, reg_hits, reg_voiced)}
        out["by_family"][scoring] = {k: (h / v if v else None, v) for k, (h, v) in sorted(fam.items())}
    if all(c.ref_f0_midi is not None for c in clips):
        out["midi_labels"] = {}
        for scoring in ("offline", "causal"):
            per = [score_track(c.ref_f0_midi, run["tracks"][(c.index, cond)], method.lookahead_s,
                               causal=scoring == "causal") for c in clips]
            out["midi_labels"][scoring] = None if per[0] is None else mean_scores(per)
    return out


def any_method_right(verdicts: dict[str, dict], clips: list[Clip], conditions: list[str]) -> dict:
    """Per condition: the share of reference-voiced frames, by note-frame band and overall, that at
    least one method got within 50 cents (offline), over the methods run on every clip of it: how
    far the labels are reachable at all by the trackers at hand."""
    out = {}
    for cond in conditions:
        names = [n for n, v in verdicts.items() if all((c.index, cond) in v for c in clips)]
        if not names:
            continue
        hits = voiced = 0
        for clip in clips:
            ok = np.any([verdicts[n][(clip.index, cond)] for n in names], axis=0)
            h, v = count_by_band(ok, note_frame_bands(clip.ref_f0))
            hits, voiced = hits + h, voiced + v
        out[cond] = {"methods": names, "offline": [float(x) for x in hits / np.maximum(voiced, 1)],
                     "all_voiced": float(hits.sum() / max(voiced.sum(), 1))}
    return out


def parse_limit(items: list[str], conditions: list[str]) -> dict[str, tuple[int | None, list[str]]]:
    """``--limit METHOD=N[:COND,COND]`` → {method: (n clips, conditions)}.

    Raises:
        UsageError: malformed.
    """
    limits = {}
    for item in items:
        try:
            name, rest = item.split("=", 1)
            n, _, conds = rest.partition(":")
            wanted = conds.split(",") if conds else list(conditions)
            limits[name] = (int(n), [c for c in wanted if c in conditions])
        except ValueError:
            raise UsageError(f"--limit {item!r}: use METHOD=N or METHOD=N:clean,noisy") from None
    return limits


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the command line.

    Raises:
        UsageError: a bad option.
    """
    class Parser(argparse.ArgumentParser):
        def error(self, message: str):  # noqa: D102
            raise UsageError(message)

    ap = Parser(prog="python -m training.pitch.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=30, help="clips (default 30)")
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds per clip (default 8)")
    ap.add_argument("--seed", type=int, default=606, help="set and condition seed (default 606)")
    ap.add_argument("--methods", default=None,
                    help=f"comma list of {', '.join(METHODS)} (default all; cand* only with --candidate)")
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="comma list of clean, noisy, reverb")
    ap.add_argument("--limit", action="append", default=[],
                    help="METHOD=N[:COND,...]: run METHOD on the first N clips (and only those conditions)")
    ap.add_argument("--labels", choices=("aligned", "midi"), default="aligned",
                    help="reference convention (default aligned; aligned also scores the MIDI-timed twin)")
    ap.add_argument("--data", type=Path, default=None, help="the set's folder (default data/pitch-eval-...)")
    ap.add_argument("--cache", type=Path, default=REPO / "data" / "pitch-eval-cache", help="prediction cache")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results", help="where the results go")
    ap.add_argument("--workers", type=int, default=2, help="processes for rendering the set (default 2)")
    ap.add_argument("--model", default=None, help="for ours: a candidate .onnx instead of rtmir/zoo/pitch-tcn.onnx")
    ap.add_argument("--candidate", default=None, help="a model in training, scored as cand and cand-live")
    ap.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = ap.parse_args(argv)
    default = [m for m in METHODS if args.candidate or not m.startswith("cand")]
    args.methods = [m for m in args.methods.split(",") if m] if args.methods is not None else default
    if any(m.startswith("cand") for m in args.methods) and not args.candidate:
        raise UsageError("methods cand and cand-live need --candidate PATH")
    args.conditions = [c for c in args.conditions.split(",") if c]
    bad = [m for m in args.methods if m not in METHODS] + [c for c in args.conditions if c not in CONDITIONS]
    if bad:
        raise UsageError(f"unknown method or condition: {', '.join(bad)}")
    if args.n < 1 or args.seconds <= 0 or not args.methods or not args.conditions:
        raise UsageError("--n and --seconds must be positive, --methods and --conditions non-empty")
    args.limits = parse_limit(args.limit, args.conditions)
    if args.data is None:
        suffix = "" if args.labels == "midi" else "-aligned"
        args.data = REPO / "data" / f"pitch-eval-val-s{args.seed}-{args.seconds:g}s{suffix}"
    args.midi_data = None if args.labels == "midi" else args.data.with_name(args.data.name + "-midi")
    return args


def evaluate(args: argparse.Namespace) -> dict:
    """Run every method and return the results record (see ``eval_plot.write_all``)."""
    ensure_dataset(args.data, args.n, args.seconds, args.seed, args.workers, args.labels)
    if args.midi_data is not None:
        ensure_dataset(args.midi_data, args.n, args.seconds, args.seed, args.workers, "midi")
    clips = load_clips(args.data, args.n, args.midi_data)
    set_id = f"s{args.seed}-{args.seconds:g}s"
    params = {cond: [condition_params(cond, args.seed, c.index) for c in clips] for cond in args.conditions}
    record = {"set": report.set_record(args, clips, params), "methods": {}, "results": {}}
    verdicts: dict[str, dict] = {}
    for name in args.methods:
        method = build_method(name, args.model, args.candidate)
        n_clips, conds = args.limits.get(name, (len(clips), args.conditions))
        entry = {"clips": min(n_clips, len(clips)), "conditions": conds}
        if name in ("ours", "ours-live") and args.model:
            entry["model"] = str(args.model)
        if name in ("cand", "cand-live"):
            entry["model"] = str(args.candidate)
        record["methods"][name] = entry
        try:
            method.prepare()
        except MethodUnavailable as exc:
            entry["skipped"] = str(exc)
            log.warning("skipping %s: %s", name, exc)
            continue
        wall = time.perf_counter()
        run = run_method(method, clips[:n_clips], conds, args.seed, args.cache, set_id)
        entry.update({"version": method.cache_key(), "lookahead_s": method.lookahead_s,
                      "lookahead_note": method.lookahead_note, "voicing_threshold": getattr(method, "threshold", None),
                      "cpu_s": run["cpu_s"], "audio_s": run["audio_s"],
                      "cpu_s_per_audio_s": run["cpu_s"] / run["audio_s"], "cached_runs": run["cached"],
                      "measured_utc": [_utc(min(run["mtimes"])), _utc(max(run["mtimes"]))],
                      "wall_s_this_run": time.perf_counter() - wall})
        verdicts[name] = {}
        record["results"][name] = score_method(method, run, clips[:n_clips], conds, verdicts[name])
        log.warning("%s: %.3f CPU s per s over %.0f s of audio (%d cached)", name,
                    entry["cpu_s_per_audio_s"], run["audio_s"], run["cached"])
    record["any_method"] = any_method_right(verdicts, clips, args.conditions)
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        args = parse_args(argv)
        args.out.mkdir(parents=True, exist_ok=True)
        record = evaluate(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record["run"] = report.run_record(argv if argv is not None else sys.argv[1:])
    print(report.write_all(record, args.out, plot=not args.no_plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
