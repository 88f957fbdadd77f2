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
``--train-data``). Writes ``OUT/tags_eval.json`` and ``OUT/tags_eval.md``.
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


def baseline(train_data: str, limit: int, cache: str | None) -> Method:
    """The MFCC + logistic-regression baseline, trained on ``limit`` clips of ``train_data``."""
    from .baseline import BaselineTagger

    clips = load_split(train_data, cache, limit=limit)
    tagger = BaselineTagger(TAGS).fit(list(clips.audio), list(clips.labels))
    return tagger.predict


def score(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Every figure of one method under one condition, ``labels``/``probs`` ``[n_clips, 13, frames]``."""
    lab, pr = np.concatenate(list(labels), axis=1), np.concatenate(list(probs), axis=1)
    fams = per_family(lab, pr, TAGS)
    seg_l = np.concatenate([segments(x, em.RATE, "max") for x in labels], axis=1)
    seg_p = np.concatenate([segments(x, em.RATE, "mean") for x in probs], axis=1)
    seg_auc = [roc_auc(seg_l[i], seg_p[i]) for i in range(len(TAGS))]
    seg_ap = [average_precision(seg_l[i], seg_p[i]) for i in range(len(TAGS))]
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
            "families": {k: v["auc"] for k, v in fams.items()}}


def evaluate(methods: dict[str, Method], clips, names: list[str], seed: int) -> dict:
    """``{method: {condition: figures, "cpu_s_per_s": ...}}`` (clip i under condition seed ``seed + i``)."""
    n_frames = clips.labels.shape[-1]
    out = {}
    for name, run in methods.items():
        res, cpu, audio_s = {}, 0.0, 0.0
        for cond in names:
            probs = []
            for i, x in enumerate(clips.audio):
                y = conditions.degrade(x, cond, seed + i, SAMPLE_RATE)
                t0 = time.process_time()
                times, p = run(y)
                cpu += time.process_time() - t0
                audio_s += len(y) / SAMPLE_RATE
                probs.append(em.on_grid(times, p, n_frames))
            res[cond] = score(clips.labels, np.stack(probs))
        res["cpu_s_per_s"] = cpu / audio_s
        out[name] = res
    return out


def markdown(results: dict, names: list[str], header: str) -> str:
    """One table per condition: a row per method."""
    lines = [header, ""]
    for cond in names:
        lines += [f"### {cond}", "", "| method | AUC frame | AP frame | AUC 1 s | AP 1 s | reaction median / p90 (s) | "
                  "missed | release median (s) | false alarms / min solo | CPU s/s |", "|---|---|---|---|---|---|---|---|---|---|"]
        for m, r in results.items():
            f = r[cond]
            lines.append(f"| {m} | {f['auc']:.3f} | {f['ap']:.3f} | {f['auc_1s']:.3f} | {f['ap_1s']:.3f} | "
                         f"{f['reaction'].get('median_s', float('nan')):.2f} / {f['reaction'].get('p90_s', float('nan')):.2f} | "
                         f"{f['reaction'].get('missed', float('nan')):.2f} | {f['release'].get('median_s', float('nan')):.2f} | "
                         f"{f['false_alarms_per_min']:.1f} | {r['cpu_s_per_s']:.4f} |")
        lines.append("")
    fam_head = "| method | " + " | ".join(TAGS) + " |"
    lines += ["### ROC-AUC per family (clean, per frame)", "", fam_head, "|---|" + "---|" * len(TAGS)]
    for m, r in results.items():
        lines.append(f"| {m} | " + " | ".join(f"{r[names[0]]['families'][t]:.3f}" for t in TAGS) + " |")
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.tags.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", help="our tagger (.onnx); without it only the peers run")
    ap.add_argument("--methods", default="cand,baseline", help="comma list of cand, baseline")
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
    unknown = sorted(set(wanted) - {"cand", "baseline"})
    if unknown:
        print(f"error: unknown methods {unknown}", file=sys.stderr)
        return 2
    data = render_set(args.n, args.seconds, args.seed, Path(args.data_root))
    clips = load_split(data, args.cache)
    methods: dict[str, Method] = {}
    if "cand" in wanted:
        methods["cand"] = candidate(args.candidate)
    if "baseline" in wanted:
        methods["baseline"] = baseline(args.train_data, args.train_limit, args.cache)
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
