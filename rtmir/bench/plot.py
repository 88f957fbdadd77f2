"""The ``rtmir bench --plot`` figure, drawn from the JSON document alone (matplotlib, Agg).

    ┌ compute per hop (histogram, log µs) ┐ ┌ latency breakdown (ms, stacked)     ┐
    │ one curve per processor; the block  │ │ algorithmic │ buffering │ compute   │
    │ budget and hop length as lines      │ │ p99 │ device, per processor          │
    └─────────────────────────────────────┘ └─────────────────────────────────────┘
    ┌ real-time factor vs block size      ┐ ┌ end to end (if measured)            ┐

    python -m rtmir.bench.plot bench.json bench.png      # redraw from a recorded run

matplotlib is in the ``bench`` extra and imported here only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..sinks.output_path import PartFile, check_output

import numpy as np

PARTS = (("algorithmic_ms", "algorithmic"), ("buffering_ms", "buffering"), ("compute_p99_ms", "compute p99"),
         ("device_ms", "device"))


def _block_for(doc: dict) -> int:
    blocks = doc["meta"]["blocks"]
    for b in (doc.get("e2e") or {}).get("block"), 128:
        if b in blocks:
            return b
    return blocks[0]


def _histograms(ax, doc: dict, block: int) -> None:
    edges = np.asarray(doc["histograms"]["edges_us"])
    centres = np.sqrt(edges[:-1] * edges[1:])
    used = []
    for h in doc["histograms"]["rows"]:
        if h["block"] == block and h["processor"] != "engine":
            ax.step(centres, h["counts"], where="mid", label=h["processor"])
            used += list(np.flatnonzero(h["counts"]))
    rows = [r for r in doc["rows"] if r["block"] == block and r["processor"] != "engine"]
    ax.axvline(1e6 * block / doc["meta"]["sample_rate"], color="red", ls="--", label=f"block budget ({block})")
    for r in rows[:1]:
        ax.axvline(r["hop_budget_us"], color="grey", ls=":", label=f"hop length ({r['hop_size']})")
    ax.set_xscale("log")
    ax.set_yscale("symlog")
    ax.set_ylim(bottom=0)
    if used:
        budget = 1e6 * block / doc["meta"]["sample_rate"]
        ax.set_xlim(edges[min(used)] / 2, max(edges[max(used) + 1], rows[0]["hop_budget_us"] if rows else budget) * 2)
    ax.set_xlabel("compute per hop (µs)")
    ax.set_ylabel("hops")
    ax.set_title(f"compute per hop, block {block}")
    ax.legend(fontsize=7)


def _breakdown(ax, doc: dict, block: int) -> None:
    rows = [r for r in doc["latency"] if r["block"] == block]
    names = [r["processor"] for r in rows]
    left = np.zeros(len(rows))
    for key, label in PARTS:
        vals = np.array([r.get(key) or 0.0 for r in rows])
        ax.barh(names, vals, left=left, label=label if key != "device_ms" or rows[0].get(key) is not None
                else "device (not measured)")
        left += vals
    ax.set_xlabel("ms")
    ax.set_title(f"latency breakdown, block {block}")
    ax.legend(fontsize=7)


def _rtf(ax, doc: dict) -> None:
    for name in sorted({r["processor"] for r in doc["rows"]}):
        pts = sorted((r["block"], r["rtf"]) for r in doc["rows"] if r["processor"] == name)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("host block (samples)")
    ax.set_ylabel("real-time factor")
    ax.set_title("RTF vs block size (1 = real time)")
    ax.legend(fontsize=7)


def _e2e(ax, doc: dict) -> None:
    e2e = doc.get("e2e") or {}
    ev = e2e.get("events")
    labels, p50, p99 = [], [], []
    if ev and ev["arrival_minus_audio_ms"].get("count"):
        for key, label in (("arrival_minus_audio_ms", "OSC arrival − audio"), ("arrival_minus_timetag_ms", "OSC arrival − timetag")):
            labels.append(label)
            p50.append(ev[key]["p50"])
            p99.append(ev[key]["p99"])
        ax.axvspan(ev["declared"]["min_ms"], ev["declared"]["max_ms"], color="green", alpha=0.15, label="declared band")
    for key in ("audio_freewheel", "audio_realtime"):
        a = e2e.get(key)
        if a and a.get("lag_ms_p50") is not None:
            labels.append(f"audio lag ({a['mode']})")
            p50.append(a["lag_ms_p50"])
            p99.append(a["lag_ms_p50"])
    if not labels:
        ax.text(0.5, 0.5, "no end-to-end run (--e2e)", ha="center", va="center")
        ax.set_axis_off()
        return
    y = np.arange(len(labels))
    ax.barh(y, p50, label="p50")
    ax.scatter(p99, y, color="black", zorder=3, label="p99")
    ax.set_yticks(y, labels)
    ax.set_xlabel("ms")
    ax.set_title("end to end through JACK")
    ax.legend(fontsize=7)


def write_plot(doc: dict, path) -> None:
    """Draw the four panels of ``doc`` (a bench JSON document) into the PNG ``path`` (a path or a
    binary file object)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    block = _block_for(doc)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    _histograms(axes[0, 0], doc, block)
    _breakdown(axes[0, 1], doc, block)
    _rtf(axes[1, 0], doc)
    _e2e(axes[1, 1], doc)
    fig.suptitle(f"rtmir bench — {', '.join(doc['meta']['processors'])} @ {doc['meta']['sample_rate']} Hz "
                 f"(load {doc['meta']['load_average_1min']:.1f})")
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description="Draw the rtmir bench figure from its JSON.")
    parser.add_argument("json")
    parser.add_argument("png")
    args = parser.parse_args()
    doc = json.loads(Path(args.json).read_text())
    out = PartFile(check_output(args.png, "png", inputs=(args.json,)), "wb", "png")
    try:
        write_plot(doc, out.file)
    except BaseException:
        out.discard()
        raise
    out.commit()


if __name__ == "__main__":
    main()
