"""``python -m training.tags.evaluate --candidate MODEL.onnx``: our tagger and the peers, side by side.

On band pieces rendered with MuseScore_General (``--kind band --split val``, a seed of its own),
every method runs on every clip under every condition (``training.core.conditions``) and is
scored on the label grid (``eval_metrics``): macro ROC-AUC and average precision per frame and on
1 s segments, per family, reaction and release times, false alarms per minute on solo parts, CPU
seconds per second of audio. Estimates are placed at the instant they become available (the end
of the audio a method has heard: for ``cand``, each event's ``t`` plus the model's declared
latency), so every figure is what a live user gets.

Methods: ``cand`` (the ONNX streamed through ``rtmir.tasks.tags.TagsProcessor``, block 1024),
``baseline`` (``baseline.BaselineTagger`` trained here on ``--train-limit`` clips of
``--train-data``), ``musicnn`` (MTT_musicnn, 3 s patches every 1 s, in its own venv:
``musicnn_peer.py``; scored on the families its tags name). Writes ``OUT/tags_eval.json`` and
``OUT/tags_eval.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training.core import conditions
from training.core.provenance import git_commit, machine, utc_now
from training.synth.activity import TAGS

from . import eval_metrics as em
from .data import SAMPLE_RATE, load_split
from .metrics import average_precision, macro, per_family, roc_auc, segments

Method = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # audio [n] 16 kHz -> (times_s [T], probs [13, T])


def candidate(path: str, block: int = 1024) -> Method:
    """Our tagger as a user streams it: ``TagsProcessor`` behind a ``BlockAdapter``."""
    from rtmir import BlockAdapter, ProcessSpec, StreamingSession
    from rtmir.tasks.tags import TagsProcessor

    proc = TagsProcessor(StreamingSession(path))
    lag = proc.latency_samples / proc.sample_rate

    def run(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        adapter = BlockAdapter(proc)
        adapter.prepare(ProcessSpec(SAMPLE_RATE, block, 1))
        events = []
        for i in range(0, len(audio), block):
            events += adapter.push(np.ascontiguousarray(audio[None, i:i + block], np.float32))
        times = np.array([e.t for e in events]) + lag
        return times, np.array([list(e.values["tags"].values()) for e in events]).T

    return run


MUSICNN_FAMILIES = {  # MTT tags that name an instrument family of ours (issue #14's mapping)
    "piano": ("piano", "harpsichord"), "guitar": ("guitar",), "strings": ("strings", "violin", "cello", "harp"),
    "voice": ("vocal", "vocals", "voice", "singing", "choir", "choral"), "pipe": ("flute",),
    "synth_lead": ("synth",), "synth_pad": ("synth",), "drums": ("drums",),
}
"""Our family <- the max of these MTT_musicnn tags; families not listed are not scored for musicnn."""


def musicnn(python: str, input_length: float = 3.0, hop: float = 1.0) -> Method:
    """musicnn's MTT model run by ``musicnn_peer.py`` with the Python of its own venv (``run.batch``:
    all clips of a condition in one process); rows of families it has no tag for are NaN (left
    out of its figures). Its CPU is the inference's own (TensorFlow's start-up excluded)."""
    import subprocess
    import tempfile

    import soundfile as sf

    script = Path(__file__).with_name("musicnn_peer.py")

    def batch(clips: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        with tempfile.TemporaryDirectory() as tmp:
            wavs, out = [Path(tmp) / f"{i}.wav" for i in range(len(clips))], Path(tmp) / "out.npz"
            for wav, audio in zip(wavs, clips):
                sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
            subprocess.run([python, str(script), "--out", str(out), "--input-length", str(input_length), "--hop", str(hop),
                            *map(str, wavs)], check=True, capture_output=True, timeout=3600)
            with np.load(out) as z:
                labels, cpu = list(z["labels"]), float(z["cpu_s"])
                grams = [(z[f"end_s_{i}"], z[f"taggram_{i}"]) for i in range(len(clips))]
        run.inference_cpu_s += cpu
        results = []
        for ends, taggram in grams:
            probs = np.full((len(TAGS), len(ends)), np.nan)
            for family, tags in MUSICNN_FAMILIES.items():
                probs[TAGS.index(family)] = taggram[:, [labels.index(t) for t in tags]].max(axis=1)
            results.append((ends, probs))
        return results

    def run(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return batch([audio])[0]

    run.batch, run.inference_cpu_s, run.families = batch, 0.0, tuple(MUSICNN_FAMILIES)
    return run


def baseline(train_data: str, limit: int, cache: str | None) -> Method:
    """The MFCC + logistic-regression baseline, trained on ``limit`` clips of ``train_data``."""
    from .baseline import BaselineTagger

    clips = load_split(train_data, cache, limit=limit)
    tagger = BaselineTagger(TAGS).fit(list(clips.audio), list(clips.labels))
    return tagger.predict


def score(labels: np.ndarray, probs: np.ndarray, families: tuple[str, ...] = TAGS) -> dict:
    """Every figure of one method under one condition over ``families`` (the rows a method
    estimates), ``labels``/``probs`` ``[n_clips, 13, frames]``; ``auc_common`` is the macro
    ROC-AUC over ``COMMON`` (the families every peer estimates)."""
    rows = [TAGS.index(f) for f in families]
    labels, probs = labels[:, rows], probs[:, rows]
    lab, pr = np.concatenate(list(labels), axis=1), np.concatenate(list(probs), axis=1)
    fams = per_family(lab, pr, families)
    seg_l = np.concatenate([segments(x, em.RATE, "max") for x in labels], axis=1)
    seg_p = np.concatenate([segments(x, em.RATE, "mean") for x in probs], axis=1)
    seg_auc = [roc_auc(seg_l[i], seg_p[i]) for i in range(len(families))]
    seg_ap = [average_precision(seg_l[i], seg_p[i]) for i in range(len(families))]
    times = {"reaction": [], "release": []}
    alarms, minutes = 0, 0.0
    for y, p in zip(labels, probs):
        for k, v in em.reaction_times(y, p).items():
            times[k] += v
        a, m = em.solo_false_alarms(y, p)
        alarms, minutes = alarms + a, minutes + m
    finite = lambda xs: float(np.nanmean(xs)) if np.isfinite(xs).any() else float("nan")  # noqa: E731
    return {"auc": macro(fams, "auc"), "ap": macro(fams, "ap"), "auc_1s": finite(seg_auc), "ap_1s": finite(seg_ap),
            "reaction": em.summary(times["reaction"]), "release": em.summary(times["release"]),
            "false_alarms_per_min": alarms / minutes if minutes else float("nan"), "solo_minutes": minutes,
            "auc_common": macro({k: v for k, v in fams.items() if k in COMMON}, "auc"),
            "families": {k: v["auc"] for k, v in fams.items()}}


COMMON = tuple(MUSICNN_FAMILIES)
"""The families every method is scored on (``auc_common``): those musicnn has tags for."""


def evaluate(methods: dict[str, Method], clips, names: list[str], seed: int) -> dict:
    """``{method: {condition: figures, "cpu_s_per_s": ...}}`` (clip i under condition seed ``seed + i``)."""
    n_frames = clips.labels.shape[-1]
    out = {}
    for name, run in methods.items():
        res, cpu, audio_s = {}, 0.0, 0.0
        for cond in names:
            degraded = [conditions.degrade(x, cond, seed + i, SAMPLE_RATE) for i, x in enumerate(clips.audio)]
            t0 = time.process_time()
            estimates = run.batch(degraded) if hasattr(run, "batch") else [run(y) for y in degraded]
            cpu += time.process_time() - t0
            audio_s += sum(len(y) for y in degraded) / SAMPLE_RATE
            probs = [em.on_grid(times, p, n_frames) for times, p in estimates]
            res[cond] = score(clips.labels, np.stack(probs), getattr(run, "families", TAGS))
        own = getattr(run, "inference_cpu_s", None)  # a peer in another process reports its own CPU
        res["cpu_s_per_s"] = (own if own is not None else cpu) / audio_s
        out[name] = res
    return out


def markdown(results: dict, names: list[str], header: str) -> str:
    """One table per condition: a row per method."""
    lines = [header, ""]
    for cond in names:
        lines += [f"### {cond}", "", "| method | AUC frame | AP frame | AUC 1 s | AP 1 s | AUC common | reaction median / p90 (s) | "
                  "missed | release median (s) | false alarms / min solo | CPU s/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for m, r in results.items():
            f = r[cond]
            lines.append(f"| {m} | {f['auc']:.3f} | {f['ap']:.3f} | {f['auc_1s']:.3f} | {f['ap_1s']:.3f} | {f['auc_common']:.3f} | "
                         f"{f['reaction'].get('median_s', float('nan')):.2f} / {f['reaction'].get('p90_s', float('nan')):.2f} | "
                         f"{f['reaction'].get('missed', float('nan')):.2f} | {f['release'].get('median_s', float('nan')):.2f} | "
                         f"{f['false_alarms_per_min']:.1f} | {r['cpu_s_per_s']:.4f} |")
        lines.append("")
    fam_head = "| method | " + " | ".join(TAGS) + " |"
    lines += [f"### ROC-AUC per family ({names[0]}, per frame)", "", fam_head, "|---|" + "---|" * len(TAGS)]
    for m, r in results.items():
        fam = r[names[0]]["families"]
        lines.append(f"| {m} | " + " | ".join(f"{fam[t]:.3f}" if t in fam else "–" for t in TAGS) + " |")
    return "\n".join(lines) + "\n"


def render_set(n: int, seconds: float, seed: int, root: Path) -> Path:
    """The evaluation pieces (rendered once; resumed when incomplete)."""
    from training.synth.__main__ import main as synth_main

    out = root / f"tags-eval-val-s{seed}-{seconds:g}s"
    rc = synth_main(["--kind", "band", "--split", "val", "--n", str(n), "--duration", str(seconds), "--seed", str(seed),
                     "--no-augment", "--workers", "2", "--out", str(out)])
    if rc != 0:
        raise SystemExit(rc)
    return out


def build_methods(wanted: list[str], args: argparse.Namespace) -> dict[str, Method]:
    """The methods asked for (the baseline is trained here).

    Raises:
        FileNotFoundError: the baseline's training data is missing.
        ValueError: the candidate cannot be opened or is not a tagging model (``ModelError`` too).
    """
    methods: dict[str, Method] = {}
    if "cand" in wanted:
        methods["cand"] = candidate(args.candidate)
    if "baseline" in wanted:
        methods["baseline"] = baseline(args.train_data, args.train_limit, args.cache)
    if "musicnn" in wanted:
        if not Path(args.musicnn_python).is_file():
            raise FileNotFoundError(f"--musicnn-python {args.musicnn_python}: no such file")
        methods["musicnn"] = musicnn(args.musicnn_python)
    return methods


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.tags.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", help="our tagger (.onnx); without it only the peers run")
    ap.add_argument("--methods", default="cand,baseline,musicnn", help="comma list of cand, baseline, musicnn")
    ap.add_argument("--musicnn-python", default="", help="the Python of a venv with musicnn (musicnn_peer.py); "
                    "without it musicnn is not run")
    ap.add_argument("--n", type=int, default=30, help="pieces (default 30)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=707, help="set and condition seed (default 707)")
    ap.add_argument("--conditions", default="clean,pink10,reverb")
    ap.add_argument("--train-data", default="data/tags/train", help="the baseline's training pieces")
    ap.add_argument("--train-limit", type=int, default=400, help="clips of --train-data the baseline is fit on")
    ap.add_argument("--data-root", default="data", help="where the evaluation set is rendered")
    ap.add_argument("--cache", default="data/tags/cache")
    ap.add_argument("--out", default="docs/results/tags_eval")
    args = ap.parse_args(argv)
    names = [c for c in args.conditions.split(",") if c]
    try:
        conditions.check(names)
    except conditions.UnknownCondition as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wanted = [m for m in args.methods.split(",") if m]
    if "cand" in wanted and not args.candidate:
        wanted.remove("cand")
    if "musicnn" in wanted and not args.musicnn_python:
        wanted.remove("musicnn")
    unknown = sorted(set(wanted) - {"cand", "baseline", "musicnn"})
    if unknown:
        print(f"error: unknown methods {unknown}", file=sys.stderr)
        return 2
    try:
        methods = build_methods(wanted, args)
        data = render_set(args.n, args.seconds, args.seed, Path(args.data_root))
        clips = load_split(data, args.cache)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = evaluate(methods, clips, names, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"set": {"data": str(data), "n": len(clips.audio), "seconds": args.seconds, "seed": args.seed,
                      "conditions": names},
              "run": {"command": " ".join(["python -m training.tags.evaluate", *(sys.argv[1:] if argv is None else argv)]),
                      "date": utc_now(), "git_commit": git_commit(), "machine": machine()},
              "results": results}
    (out / "tags_eval.json").write_text(json.dumps(record, indent=1))
    header = (f"## Tagging, side by side ({len(clips.audio)} MuseScore_General band pieces of {args.seconds:g} s, "
              f"seed {args.seed}; `{record['run']['command']}`)")
    (out / "tags_eval.md").write_text(markdown(results, names, header))
    sys.stdout.write(markdown(results, names, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
