"""Live terminal display for ``rtmir live`` (rich).

``send``/``status`` (engine thread) only keep references to the latest values — a few
attribute stores per push. A rich ``Live`` view, refreshed a few times a second by rich's own
thread, reads them and draws: per task the latest pitch (note name, Hz, confidence bar) or a
bar per instrument family, and the stream's status (xruns, missed hops, worker load, latency). One row per graph
node, drawn by the node's declared result kind (``bind_graph``), never guessed from fields.
"""
from __future__ import annotations

import math

from ..core.processor import Event

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def note_name(f0_hz: float) -> str:
    """``440.0`` → ``"A4 +0¢"``; ``""`` for f0 ≤ 0."""
    if f0_hz <= 0:
        return ""
    midi = 69 + 12 * math.log2(f0_hz / 440.0)
    nearest = round(midi)
    return f"{NOTE_NAMES[nearest % 12]}{nearest // 12 - 1} {100 * (midi - nearest):+.0f}¢"


def bar(p: float, cells: int = 10) -> str:
    """``0.72`` → ``"███████▏   0.72"``: a bar of ``cells`` characters (eighths) and the value
    (clamped to 0..1; NaN as 0)."""
    p = float(p)
    p = min(max(p, 0.0), 1.0) if p == p else 0.0  # NaN draws as empty
    eighths = int(round(p * cells * 8))
    full, part = divmod(eighths, 8)
    text = "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])
    return f"{text:<{cells}} {p:.2f}"


class DisplaySink:
    """Keeps the latest event per node and the latest status for a terminal view."""

    def __init__(self) -> None:
        self.latest: dict[str, Event] = {}
        self.last_status: dict = {}
        self.kinds: dict[str, str] = {}

    def bind_graph(self, graph) -> None:
        """Learn each node's result kind (how its row is drawn)."""
        for node in graph.nodes:
            self.kinds[node.name] = node.desc.result or "raw"

    def send(self, events: list[Event]) -> None:
        for e in events:
            self.latest[e.node or e.task] = e

    def status(self, stats: dict) -> None:
        self.last_status = stats

    def close(self) -> None:
        """Nothing to release."""

    def render(self):
        """A rich renderable of the current state (called by rich's refresh thread)."""
        from rich.table import Table

        table = Table(title="rtmir live", expand=False)
        for col in ("node", "t (s)", "value", "confidence"):
            table.add_column(col)
        for node, e in sorted(self.latest.items()):
            table.add_row(node, f"{e.t:8.2f}", *self.describe(e, self.kinds.get(node, "raw")))
        s = self.last_status
        table.caption = (f"xruns {s.get('xruns', 0)} · missed {s.get('missed_hops', 0)} · "
                         f"load {100 * s.get('cpu_load', 0.0):.0f}% · latency {s.get('latency_ms', 0.0):.1f} ms")
        for node, figures in sorted(s.get("nodes", {}).items()):  # e.g. a generator's tokens/s, buffer ahead
            table.caption += f"\n{node}: " + " · ".join(f"{k} {v:.1f}" for k, v in figures.items())
        return table

    @staticmethod
    def describe(e: Event, kind: str) -> tuple[str, str]:
        """(value, confidence) cells of one event drawn as ``kind``."""
        v = e.values
        if kind == "pitch":
            value = f"{note_name(v['f0_hz']):<9} {v['f0_hz']:7.1f} Hz" if v.get("voiced") else "unvoiced"
            return value, bar(v.get("confidence", 0.0))
        if kind == "tags":  # a bar per family, in the model's order
            width = max((len(k) for k in v["tags"]), default=0)
            return "\n".join(f"{k:<{width}} {bar(p)}" for k, p in v["tags"].items()), ""
        if kind == "levels":
            return ", ".join(f"{k} {val:.0f} dB" for k, val in v["levels_dbfs"].items()), ""
        if kind == "notes":  # the latest note change; its velocity as the bar
            what = f"drum {v['pitch']}" if v.get("drum") else note_name(440.0 * 2.0 ** ((v["pitch"] - 69) / 12.0))
            return f"{'on ' if v.get('on') else 'off'} {what}", bar(v.get("velocity", 0) / 127.0)
        return ", ".join(f"{k}={val}" for k, val in list(v.items())[:3]), ""
