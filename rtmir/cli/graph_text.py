"""``rtmir graph FILE``: a prepared engine's graph as text — nodes, ports, edges, routes, latency."""
from __future__ import annotations

from ..core.engine import Engine
from ..core.latency import total_ms
from ..core.ports import Port


def _port(p: Port) -> str:
    if p.kind == "events":
        return f"{p.name} (events: {p.result})"
    bits = [p.kind]
    if p.width:
        bits.append(f"×{p.width}")
    if p.rate:
        bits.append(f"@{p.rate} Hz")
    if p.hop and p.hop > 1:
        bits.append(f"hop {p.hop}")
    return f"{p.name} ({' '.join(bits)})"


def graph_text(engine: Engine) -> str:
    """Several lines: every node with its ports and params, edges, routes, then per path the
    declared latency (``core.latency``; compute time comes on top, see ``rtmir bench``)."""
    g = engine.graph
    lines = [f"graph: {len(g.nodes)} node(s), host {engine.host_rate} Hz, block {engine.max_block}", "", "nodes:"]
    placements = {n.name: n.placement for n in engine.nodes}
    for node in g.nodes:
        d = node.desc
        lines.append(f"  {node.name}  (task {node.processor.task}, placement {placements[node.name]}"
                     f"{', callback-safe' if d.callback_safe else ''}, miss {engine.miss_policies()[node.name]})")
        lines.append(f"    in:  {', '.join(_port(p) for p in d.inputs) or '-'}")
        lines.append(f"    out: {', '.join(_port(p) for p in d.outputs) or '-'}")
        if d.params:
            now = node.processor.params()
            lines.append("    params: " + ", ".join(f"{p.name}={now.get(p.name, p.default):g} [{p.low:g}, {p.high:g}]"
                                               f"{' ' + p.unit if p.unit else ''}" for p in d.params))
    lines += ["", "edges:"]
    lines += [f"  {src} -> {node.name}.{port}" for node in g.nodes for port, src in node.sources.items()]
    lines += ["", "routes:"]
    lines += [f"  {r.src} -> " + (f"out:{r.channel}" if r.channel else f"file{':' + r.file if r.file else ''}")
              for r in g.routes] or ["  (none)"]
    lines += ["", "latency (declared; measured compute comes on top):"]
    for row, node in zip(engine.latency_report(), engine.nodes):
        path = " -> ".join(["input"] + row["path"])
        lines.append(f"  {path}: {total_ms(row):.2f} ms = upstream {row['upstream_ms']:.2f} + algorithmic "
                     f"{row['algorithmic_ms']:.2f} + buffering {row['buffering_ms']:.2f} "
                     f"(block {row['host_block_ms']:.2f}, resampler {row['resampler_ms']:.2f}, "
                     f"adapter {row['adapter_audio_ms']:.2f})")
        if "audio_delay_samples" in row:
            lines.append(f"    audio out: {row['audio_delay_samples']:.2f} samples "
                         f"({1000 * row['audio_delay_samples'] / engine.host_rate:.2f} ms) behind the input")
    return "\n".join(lines)
