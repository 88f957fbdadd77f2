"""The pitch evaluation's outputs: the record's provenance, the Markdown table, the JSON, the plot.

``write_all(record, out)`` writes ``pitch_eval.json`` (every number), ``pitch_eval.md`` (the
tables) and ``pitch_eval.png`` (RPA and OA per method per condition, RPA against CPU cost with
each method's look-ahead) and returns the Markdown.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from training.core import provenance

from .eval_metrics import METRIC_NAMES, NOTE_FRAME_BAND_NAMES

PACKAGES = ("numpy", "scipy", "onnxruntime", "numba", "soxr", "torch", "torchcrepe", "pesto-pitch", "swift-f0",
            "librosa", "mir_eval")
SHORT = {"raw_pitch_accuracy": "RPA", "raw_chroma_accuracy": "RCA", "voicing_recall": "VR",
         "voicing_false_alarm": "VFA", "overall_accuracy": "OA"}


def set_record(args, clips, condition_params: dict[str, list[dict]]) -> dict:
    """What was evaluated: the clips, their seed, length and soundfont, the conditions and each
    clip's condition parameters (``condition_params``: condition -> one dict per clip)."""
    return {"data": str(args.data), "n_clips": len(clips), "seconds_per_clip": args.seconds, "seed": args.seed,
            "audio_seconds_per_condition": float(sum(len(c.audio) / c.sample_rate for c in clips)),
            "soundfont": sorted({c.meta["soundfont"] for c in clips}), "sample_rate": clips[0].sample_rate,
            "label_frame_rate": 100, "conditions": args.conditions, "labels": getattr(args, "labels", "midi"),
            "condition_params": condition_params,
            "unvoiced_but_sounding": unvoiced_but_sounding(clips),
            "synth_command": (f"python -m training.synth --kind mono --split val --n {len(clips)} --duration "
                              f"{args.seconds:g} --no-augment --seed {args.seed} --labels "
                              f"{getattr(args, 'labels', 'midi')} --out {args.data}")}


def unvoiced_but_sounding(clips, within_db: float = 30.0) -> float:
    """Fraction of label-unvoiced frames (clean) whose 20 ms RMS is within ``within_db`` of the
    clip's loudest frame: release tails and legato overlaps the MIDI labels call unvoiced."""
    sounding = unvoiced = 0
    for c in clips:
        hop = c.sample_rate // 100
        frames = np.arange(len(c.ref_f0))
        rms = np.array([np.sqrt(np.mean(c.audio[max(0, (k - 1) * hop):(k + 1) * hop] ** 2) + 1e-12) for k in frames])
        level = 20 * np.log10(rms / rms.max())
        unvoiced += int((c.ref_f0 == 0).sum())
        sounding += int(((c.ref_f0 == 0) & (level > -within_db)).sum())
    return sounding / max(unvoiced, 1)


def run_record(argv: list[str]) -> dict:
    """Provenance: date, machine, versions, threads, git commit, the exact command."""
    torch = sys.modules.get("torch")
    return {"date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": provenance.machine(),
            "versions": provenance.package_versions(PACKAGES),
            "threads": {"torch": torch.get_num_threads() if torch else None, "onnxruntime_intra_op": 1,
                        **{v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                          "NUMBA_NUM_THREADS")}},
            "git_commit": provenance.git_commit(), "git_dirty": provenance.git_dirty(),
            "command": " ".join(["python -m training.pitch.evaluate", *argv]),
            "cpu_time": "time.process_time() around each estimate() call, in this process, one thread"}


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _subset_mean(result: dict, scoring: str, n: int) -> dict | None:
    rows = result["per_clip"][scoring][:n]
    if not rows or rows[0] is None:
        return None
    return {k: float(np.mean([r[k] for r in rows])) for k in METRIC_NAMES}


def markdown(record: dict) -> str:
    """The results as Markdown: header, one table per condition, subset tables, the methods."""
    lines = _header(record)
    for cond in record["set"]["conditions"]:
        lines += _condition_table(record, cond)
    lines += _subset_tables(record) + _note_frame_tables(record) + _breakdown_tables(record) + ["## Methods", ""]
    for name, m in record["methods"].items():
        if "skipped" in m:
            lines.append(f"- **{name}**: skipped — {m['skipped']}")
            continue
        threshold = m["voicing_threshold"] if m["voicing_threshold"] is not None else "its own decision"
        lines.append(f"- **{name}** (`{m['version']}`): look-ahead {m['lookahead_note']}; voicing threshold "
                     f"{threshold}; {m['cpu_s']:.1f} CPU s over {m['audio_s']:.0f} s of audio, measured "
                     f"{m['measured_utc'][0]} … {m['measured_utc'][1]}.")
    return "\n".join(lines) + "\n"


def _header(record: dict) -> list[str]:
    s, run = record["set"], record["run"]
    machine = run["machine"]
    return [
        "# Pitch evaluation (issues #6, #13)", "",
        f"{run['date_utc']} · `{run['command']}` · git {run['git_commit'][:10]}"
        f"{' (dirty)' if run['git_dirty'] else ''} · {machine['cpu']}, {machine['logical_cpus']} logical CPUs "
        f"(shared; load average {machine['load_average_1_5_15'][0]:.1f} at the end)", "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in run["versions"].items() if v) + ".", "",
        f"Set: {s['n_clips']} clips × {s['seconds_per_clip']:g} s ({s['audio_seconds_per_condition']:.0f} s per "
        f"condition), monophonic melodies, {', '.join(s['soundfont'])} (validation timbres), seed {s['seed']}, "
        "no augmentation: `" + s["synth_command"] + "`. Conditions from `training.synth.augment`, seeded per "
        "clip: noisy = 10 dB SNR, colour (white/pink/brown/blue) drawn per clip; reverb = synthetic room, "
        "RT60 0.3–1.2 s, DRR 0–6 dB.", "",
        "Metrics: mir_eval.melody, 50 cents, mean over clips, in %. RPA/RCA count every reference-voiced frame "
        "with the method's pitch whatever its voicing decision; VR/VFA/OA use the decision. " + _labels_note(s) +
        "*Causal*: each estimate re-timed to t + look-ahead (when its last input sample has arrived) and "
        "held until the next one. CPU: `time.process_time()` per second of audio, in-process, one thread, "
        "resampling included, loading and warm-up excluded.", ""]


def _labels_note(s: dict) -> str:
    if s.get("labels", "midi") == "midi":
        return ("Labels are MIDI note times, so release tails are unvoiced: "
                f"{100 * s['unvoiced_but_sounding']:.0f}% of the clean label-unvoiced frames are within 30 dB of "
                "their clip's peak level, which drives VFA up for every method. ")
    return ("References are aligned to the audio (`training.synth.aligned`: voiced from the frame the note's "
            "own render is periodic at its f0 while it is within 30 dB of the clip's loudest frame); "
            f"{100 * s['unvoiced_but_sounding']:.0f}% of the clean reference-unvoiced frames are within 30 dB of "
            "their clip's peak level (other notes' tails, breaths, noise). Scores on the MIDI-timed references of "
            "the same audio are in their own table. ")


def _breakdown_tables(record: dict) -> list[str]:
    """Raw pitch accuracy by register and by family (offline / causal, per condition), and the
    scores on the MIDI-timed references where the set has them."""
    lines = []
    results = record["results"]
    for key, title in (("by_register", "register (low < MIDI 43, high > MIDI 84)"), ("by_family", "family")):
        for cond in record["set"]["conditions"]:
            rows = {n: r[cond][key] for n, r in results.items() if cond in r and r[cond].get(key, {}).get("offline")}
            if not rows:
                continue
            # the groups and their frame counts of the method that ran on the most clips
            full = max(rows.values(), key=lambda r: sum(v[1] for v in r["offline"].values()))["offline"]
            groups = list(full)
            lines += [f"## {cond}: raw pitch accuracy by {title} (offline / causal)", "",
                      "Methods run on fewer clips (see --limit) are scored on the frames of those clips.", "",
                      "| method | " + " | ".join(f"{g} ({full[g][1]} frames)" for g in groups) + " |",
                      "|---|" + "---:|" * len(groups)]
            for name, r in rows.items():
                off, cau = r["offline"], r.get("causal") or {}
                lines.append(f"| {name} | " + " | ".join(
                    f"{_pct(off[g][0]) if g in off else '—'} / {_pct(cau[g][0]) if g in cau else '—'}"
                    for g in groups) + " |")
            lines.append("")
    rows = {n: r for n, r in results.items() if any("midi_labels" in r[c] for c in r)}
    if rows:
        lines += ["## The same estimates on MIDI-timed references (offline / causal)", "",
                  "| method | " + " | ".join(f"{c} RPA | {c} OA | {c} VFA" for c in record["set"]["conditions"]) + " |",
                  "|---|" + "---:|" * (3 * len(record["set"]["conditions"]))]
        for name, r in rows.items():
            cells = []
            for cond in record["set"]["conditions"]:
                m = r.get(cond, {}).get("midi_labels") or {}
                off, cau = m.get("offline") or {}, m.get("causal") or {}
                cells += [f"{_pct(off.get(k))} / {_pct(cau.get(k))}"
                          for k in ("raw_pitch_accuracy", "overall_accuracy", "voicing_false_alarm")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _condition_table(record: dict, cond: str) -> list[str]:
    lines = [f"## {cond}", "",
             "| method | look-ahead ms | CPU s/s | clips | RPA | RCA | VR | VFA | OA "
             "| causal RPA | causal RCA | causal OA |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in record["methods"].items():
        res = record["results"].get(name, {}).get(cond)
        if "skipped" in m or res is None:
            why = m.get("skipped", "not run in this condition (see --limit)")
            lines.append(f"| {name} | | | | {why} | | | | | | | |")
            continue
        off, cau = res["offline"], res["causal"] or {}
        la = "whole file" if m["lookahead_s"] is None else f"{1000 * m['lookahead_s']:.1f}"
        causal = [cau.get(k) for k in ("raw_pitch_accuracy", "raw_chroma_accuracy", "overall_accuracy")]
        lines.append(f"| {name} | {la} | {m['cpu_s_per_audio_s']:.3f} | {len(res['clips'])} | "
                     + " | ".join(_pct(off[k]) for k in METRIC_NAMES) + " | "
                     + " | ".join(_pct(v) for v in causal) + " |")
    return lines + [""]


def _subset_tables(record: dict) -> list[str]:
    """For each method run on fewer clips: every method on that same subset (same conditions)."""
    lines = []
    full = record["set"]["n_clips"]
    for name, m in record["methods"].items():
        if "skipped" in m or m["clips"] >= full:
            continue
        n = m["clips"]
        for cond in m["conditions"]:
            lines += [f"## {cond}, first {n} clips (the subset {name} ran on)", "",
                      "| method | RPA | RCA | VR | VFA | OA | causal RPA | causal OA |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|"]
            for other, res_all in record["results"].items():
                res = res_all.get(cond)
                if res is None or len(res["clips"]) < n:
                    continue
                off, cau = _subset_mean(res, "offline", n), _subset_mean(res, "causal", n) or {}
                lines.append(f"| {other} | " + " | ".join(_pct(off[k]) for k in METRIC_NAMES) + " | "
                             + f"{_pct(cau.get('raw_pitch_accuracy'))} | {_pct(cau.get('overall_accuracy'))} |")
            lines.append("")
    return lines


def plot_results(record: dict, path: Path) -> None:
    """RPA and OA per method per condition (bars offline, dots causal); RPA vs CPU s/s (clean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in record["methods"] if n in record["results"]]
    conds = record["set"]["conditions"]
    full = record["set"]["n_clips"]
    ticks = [n if record["methods"][n]["clips"] >= full else f"{n}\n({record['methods'][n]['clips']} clips)"
             for n in names]
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    width = 0.8 / len(conds)
    for ax, key, title in ((axes[0], "raw_pitch_accuracy", "raw pitch accuracy"),
                           (axes[1], "overall_accuracy", "overall accuracy")):
        for j, cond in enumerate(conds):
            x = np.arange(len(names)) + (j - (len(conds) - 1) / 2) * width
            off = [record["results"][n].get(cond, {}).get("offline", {}).get(key, np.nan) for n in names]
            cau = [((record["results"][n].get(cond) or {}).get("causal") or {}).get(key, np.nan) for n in names]
            ax.bar(x, 100 * np.array(off), width, label=f"{cond}", color=f"C{j}")
            ax.plot(x, 100 * np.array(cau), "k_", markersize=10, markeredgewidth=2,
                    label="causal (t + look-ahead)" if j == 0 else None)
        ax.set_xticks(np.arange(len(names)), ticks, rotation=30, ha="right")
        ax.set_ylim(0, 112)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("%")
        ax.set_title(f"{title} (bars offline, — causal)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", ncol=4, framealpha=0.9)
    ax = axes[2]
    cond = "clean" if "clean" in conds else conds[0]
    for i, n in enumerate(names):
        m, res = record["methods"][n], record["results"][n].get(cond)
        if res is None:
            continue
        x, y = m["cpu_s_per_audio_s"], 100 * res["offline"]["raw_pitch_accuracy"]
        ax.scatter([x], [y], color=f"C{i}", s=50, zorder=3)
        if res["causal"]:
            yc = 100 * res["causal"]["raw_pitch_accuracy"]
            ax.scatter([x], [yc], facecolors="none", edgecolors=f"C{i}", s=50, zorder=3)
            ax.plot([x, x], [y, yc], color=f"C{i}", alpha=0.5)
        la = "whole file" if m["lookahead_s"] is None else f"{1000 * m['lookahead_s']:.0f} ms"
        ax.scatter([], [], color=f"C{i}", label=f"{n}: look-ahead {la}" + (f" ({len(res['clips'])} clips)"
                                                                           if len(res["clips"]) < full else ""))
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.08)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.set_xlabel("CPU seconds per second of audio (1 thread, log)")
    ax.set_ylabel(f"raw pitch accuracy, {cond} (%)")
    ax.set_title("accuracy vs cost (filled offline, hollow causal)")
    ax.grid(alpha=0.3, which="both")
    s = record["set"]
    fig.suptitle(f"rtmir pitch evaluation · {s['n_clips']} × {s['seconds_per_clip']:g} s, "
                 f"{', '.join(s['soundfont'])}, seed {s['seed']} · {record['run']['date_utc'][:10]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _note_frame_tables(record: dict) -> list[str]:
    """Raw pitch accuracy by frame of the note, offline / causal, per condition, with the share of
    voiced frames in each band and the frames at least one method got right."""
    lines = []
    for cond in record["set"]["conditions"]:
        rows = {n: r[cond]["by_note_frame"] for n, r in record["results"].items()
                if cond in r and "by_note_frame" in r[cond]}
        if not rows:
            continue
        voiced = np.array(next(iter(rows.values()))["voiced_frames"], float)
        lines += [f"## {cond}: raw pitch accuracy by frame of the note (offline / causal)", "",
                  "Bands of label frames since the note's start (a voiced frame after silence or after a "
                  "step of more than 50 cents); the same frames for every method that ran on all clips.", "",
                  "| method | " + " | ".join(NOTE_FRAME_BAND_NAMES) + " |",
                  "|---|" + "---:|" * len(NOTE_FRAME_BAND_NAMES),
                  "| share of voiced frames | " + " | ".join(_pct(v / voiced.sum()) for v in voiced) + " |"]
        for name, r in rows.items():
            if r["voiced_frames"] != list(voiced.astype(int)):
                continue
            causal = r["causal"] or [None] * len(voiced)
            lines.append(f"| {name} | " + " | ".join(f"{_pct(o)} / {_pct(c)}" for o, c in zip(r["offline"], causal))
                         + " |")
        union = record.get("any_method", {}).get(cond)
        if union:
            lines.append("| at least one method right (offline) | " + " | ".join(_pct(o) for o in union["offline"])
                         + " |")
            lines += ["", f"At least one of {', '.join(union['methods'])} is within 50 cents on "
                      f"{_pct(union['all_voiced'])} % of the reference-voiced frames (offline)."]
        lines.append("")
    return lines


def write_all(record: dict, out: Path, plot: bool = True) -> str:
    """Write ``pitch_eval.json``, ``pitch_eval.md`` and (if ``plot``) ``pitch_eval.png``."""
    md = markdown(record)
    (out / "pitch_eval.json").write_text(json.dumps(record, indent=1))
    (out / "pitch_eval.md").write_text(md)
    if plot:
        plot_results(record, out / "pitch_eval.png")
    return md
