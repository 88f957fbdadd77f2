"""Engine: host blocks in, a graph of nodes run in order, events out to the sinks, audio routed.

    host block [C, n] ─► sanitise (NaN/Inf → 0, counted) ─► control drained
        │
        ├─► node 1 (its source: the input) ─► events ┐         audio ports ─► Aligner ─► n samples
        ├─► node 2 (its source: node 1.audio) ─► ... ├─► sinks  routes: out rows · files (hosts)
        └─► ...                                      ┘

``Engine(processors)`` is the short form (``--task a --task b``, ``graph.parallel_graph``):
parallel nodes on the input, named after their task (``yin``, ``yin_2`` …), audio outputs on
consecutive output rows in order. ``Engine(graph)`` runs a ``core.graph.Graph``. Latency is computed once, in ``prepare``,
by ``core.latency``; ``latency_report`` and ``timings`` give it to hosts, the bench and display.

The engine runs on whatever thread the host gives it (the file host's thread, the live host's
worker — never the audio callback) and counts what went wrong instead of raising mid-stream.

Missed deadlines. ``push(block, missed=True)`` (the live host is behind) makes every node apply
its miss policy; besides, each node keeps its own compute lag and misses alone when it is over
its deadline (``core/node.py``). ``miss_policy`` is one policy for all, or ``{task or node:
policy}``; a graph node's own ``miss_policy`` wins.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .graph import HOST, Endpoint, Graph, GraphError, parallel_graph
from .placement import InlinePart, check_placements
from .latency import NodeTiming, StepCounts, latency_row, node_timing, period_samples, total_ms
from .node import Aligner, Node, resolve_policies
from .ports import PLACEMENTS
from .processor import Event, Processor

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where events go. ``send`` is called once per engine push with that push's events."""

    def send(self, events: list[Event]) -> None: ...

    def status(self, stats: dict) -> None: ...

    def close(self) -> None: ...

    # optional: ``bind_graph(graph)`` (before streaming), ``reset()`` (the engine was reset)


@dataclass
class EngineStats:
    """Counters of one stream.

    Attributes:
        samples_in: host samples pushed (per channel).
        nonfinite_samples: NaN/Inf samples replaced by 0.
        events: events emitted.
        push_seconds: wall seconds spent in ``push`` (compute), summed.
        max_push_seconds: the slowest single push.
    """

    samples_in: int = 0
    nonfinite_samples: int = 0
    events: int = 0
    push_seconds: float = 0.0
    max_push_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class Engine:
    """Run a graph (or processors side by side) on one input; deliver events, route audio.

    Args:
        processors: a ``Graph``, or processors fed the same input (the short form).
        sinks: receivers of every event.
        resample_quality: "low-latency" (default; files and live alike) or a soxr quality
            ("HQ", ...; event-only nodes).
        control: optional ``ControlServer``, drained at the start of every push.
        miss_policy: "skip", "hold" or "dry" for every node, or ``{task or node: policy}``.
        deadline_ms: default per-node compute-lag deadline (None: nodes miss only when the host
            says so); a graph node's ``deadline_ms`` wins.
        placement: every node's placement ("worker" or "inline"), overriding the graph's and the
            processors' (``rtmir bench --placement``); None keeps them.

    Raises:
        ValueError: no processors, or an unknown miss policy.
        GraphError: a graph that does not check.
    """

    def __init__(self, processors: list[Processor] | Graph, sinks: list[Sink] = (),
                 resample_quality: str = "low-latency", control=None,
                 miss_policy: str | dict[str, str] = "skip", deadline_ms: float | None = None,
                 placement: str | None = None) -> None:
        if not isinstance(processors, Graph) and not processors:
            raise ValueError("an engine needs at least one processor")
        self.graph = processors if isinstance(processors, Graph) else parallel_graph(list(processors))
        self.processors = [n.processor for n in self.graph.nodes]
        policies = resolve_policies(miss_policy, self.graph)
        self.nodes = []
        for g, pol in zip(self.graph.nodes, policies):
            dl = g.spec.deadline_ms if g.spec.deadline_ms is not None else deadline_ms
            node = Node(g, pol, resample_quality, None if dl is None else dl / 1000.0)
            node.placement = placement or g.spec.placement or g.desc.placement
            if node.placement not in PLACEMENTS:
                raise GraphError(f"node {node.name}: unknown placement {node.placement!r} (use {', '.join(PLACEMENTS)})")
            self.nodes.append(node)
        self._by_name = {n.name: n for n in self.nodes}
        consumers: dict[str, list[Node]] = {}
        for n in self.nodes:
            if n.source is not None:
                consumers.setdefault(n.source.node, []).append(n)
        check_placements(self.nodes, consumers, {r.src.node for r in self.graph.routes if r.file is not None})
        self.inline: InlinePart | None = None
        self._detached: set[str] = set()  # nodes another thread runs (inline, ahead)
        self._deferred: dict[str, object] = {}  # node name → the part that applies its control
        self.sinks = list(sinks)
        self.control = control
        self.stats = EngineStats()
        self.host_rate = self.max_block = self.output_channels = self.missed_pushes = 0
        self.timings: dict[str, NodeTiming] = {}
        self.t_end: float | None = None  # events at or past this stream time are dropped (padding)
        for sink in self.sinks:
            if hasattr(sink, "bind_graph"):
                sink.bind_graph(self.graph)

    def add_sinks(self, sinks: list[Sink]) -> None:
        """Deliver to ``sinks`` too (each learns the graph): lets a caller check the graph by
        building the engine before it opens any output."""
        for sink in sinks:
            if hasattr(sink, "bind_graph"):
                sink.bind_graph(self.graph)
            self.sinks.append(sink)

    # -- prepare --------------------------------------------------------------------------
    def prepare(self, host_rate: int, host_channels: int, max_block: int) -> None:
        """Prepare every node for host blocks up to ``max_block`` samples; compute latencies.

        Raises:
            ChannelError, RateError: a node cannot be fed what its source gives.
        """
        self.host_rate, self.max_block, self.host_channels = host_rate, max_block, host_channels
        for node in self.nodes:  # in order: an upstream is prepared before its consumers
            src = node.source or Endpoint(HOST, "audio")
            if src.node == HOST:
                width, units = host_channels, max_block
            else:
                up = self._by_name[src.node]
                width = up.width_of(up.desc.output(src.port))
                units = up.max_steps if node.in_port.kind != "audio" else max_block
            node.prepare(host_rate, width, units)
        counts = StepCounts(host_rate, [period_samples(host_rate, n.rate, n.hop) for n in self.nodes
                                        if n.in_port.kind == "audio"])
        self.timings = {}
        for node in self.nodes:
            src = node.source or Endpoint(HOST, "audio")
            tokens = node.in_port.kind != "audio"
            counts.add(node.name, node.rate, node.per_step, src.node if tokens else None)
            has_audio = any(p.kind == "audio" for p in node.data_outputs)
            align = counts.alignment_delay(node.name, node.rate, node.hop, tokens) if has_audio else 0
            upstream = None if src.node == HOST else self.timings[src.node]
            t = node_timing(node.name, node.rate, node.hop, node.processor.latency_samples, upstream, tokens,
                            align, node.resampler_hold, host_rate)
            self.timings[node.name] = t
            node.t_offset_s = t.in_delay_s
            node.aligners = {p.name: Aligner(node.width_of(p), node.rate, host_rate, t.alignment_samples, max_block,
                                             node.max_steps * node.hop)
                             for p in node.data_outputs if p.kind == "audio"}
        routes = [(r, self._by_name[r.src.node].aligners[r.src.port]) for r in self.graph.routes if r.channel]
        self._out_rows = [(r.channel - 1, r.channel - 1 + a.out.shape[0], (r.src.node, r.src.port)) for r, a in routes]
        self.output_channels = max((hi for _, hi, _ in self._out_rows), default=0)
        self._aligned: dict[tuple[str, str], np.ndarray] = {}
        self._plan = [(node, *self._source_of(node), [((node.name, p), a) for p, a in node.aligners.items()])
                      for node in self.nodes]
        self._silent_rows: list[tuple[int, int]] = []
        self._detached = set()
        self._deferred = {}
        self.inline = None

    def attach_inline(self) -> InlinePart | None:
        """Move the inline nodes out of ``push`` into an ``InlinePart`` for the audio callback
        (after ``prepare``; the live host calls it). None when no node is inline.

        ``push`` then leaves the inline routes' output rows at zero for the callback to fill.
        """
        plan, rows = self._detach("inline")
        self.inline = InlinePart(plan, rows, self.host_rate) if plan else None
        if self.inline is not None:
            self.defer_control(self.inline.nodes, self.inline)
        return self.inline

    def detach_ahead(self) -> tuple[list, list]:
        """Take the ahead nodes out of ``push`` (after ``prepare``; the live host runs them in
        its own thread, ``hosts/ahead.py``): their plan steps and output rows."""
        return self._detach("ahead")

    def _detach(self, placement: str) -> tuple[list, list]:
        names = {n.name for n in self.nodes if n.placement == placement}
        plan = [step for step in self._plan if step[0].name in names]
        rows = [r for r in self._out_rows if r[2][0] in names]
        self._plan = [step for step in self._plan if step[0].name not in names]
        self._out_rows = [r for r in self._out_rows if r[2][0] not in names]
        self._silent_rows += [(lo, hi) for lo, hi, _ in rows]
        self._detached |= names
        return plan, rows

    def defer_control(self, nodes: list[Node], part) -> None:
        """Hand parameter changes of ``nodes`` to ``part.set_param(node, name, value)``, which
        applies them on the thread that runs those nodes (the callback, the ahead thread)."""
        for node in nodes:
            self._deferred[node.name] = part

    def _source_of(self, node: Node) -> tuple[int, object]:
        """How ``push`` finds a node's input: (0, None) the block, (1, key) an aligned audio
        port, (2, (upstream node, port)) frames an upstream produced this push."""
        src = node.source
        if src is None or src.node == HOST:
            return 0, None
        if node.in_port.kind == "audio":
            return 1, (src.node, src.port)
        return 2, (self._by_name[src.node], src.port)

    def reset(self) -> None:
        """Reset every node (buffers, resamplers, aligners, processors' state); nodes running in
        the audio callback reset at the start of its next block; ahead nodes (generators, on
        their own thread) are not reset: they follow their own clock. Sinks with a ``reset``
        (MIDI and OSC: every sounding note ends) are told."""
        for node in self.nodes:
            if self.inline is not None and node in self.inline.nodes:
                self.inline.reset_requested = True
            elif node.name not in self._detached:
                node.reset()
        for sink in self.sinks:
            if hasattr(sink, "reset"):
                sink.reset()

    # -- push -----------------------------------------------------------------------------
    def push(self, block: np.ndarray, out: np.ndarray | None = None, missed: bool = False) -> list[Event]:
        """Process one host block ``[C, n]`` float32 and send the resulting events.

        Non-finite samples are replaced by 0 in place and counted.

        Args:
            block: host audio, ``n <= max_block``.
            out: ``[C_out, n]`` to receive the routed audio (rows not routed are zeroed), or None.
            missed: the host is behind its deadline: every node applies its miss policy (the
                sample clock still advances).
        """
        start = time.perf_counter()
        if self.control is not None:
            self.control.drain(self)
        if not math.isfinite(float(block.sum())):
            self._sanitise(block)
        n = block.shape[1]
        self.stats.samples_in += n
        self.missed_pushes += bool(missed)
        duration = n / self.host_rate
        aligned = self._aligned
        events: list[Event] = []
        for node, mode, key, outs in self._plan:
            if mode == 0:
                data = block
            elif mode == 1:
                data = aligned[key]
            else:
                data = key[0].produced[key[1]]
            got = node.push(data, duration, missed)
            if got:
                events += got
            for okey, aligner in outs:
                aligned[okey] = aligner.push(node.produced[okey[1]], n)
        if out is not None:
            self._route(out, n)
        if events:
            self._deliver(events)
        took = time.perf_counter() - start
        self.stats.push_seconds += took
        if took > self.stats.max_push_seconds:
            self.stats.max_push_seconds = took
        return events

    def _sanitise(self, block: np.ndarray) -> None:
        bad = ~np.isfinite(block)
        self.stats.nonfinite_samples += int(bad.sum())
        block[bad] = 0.0

    def _route(self, out: np.ndarray, n: int) -> None:
        if out.shape[0] > self.output_channels:
            out[self.output_channels:, :n] = 0.0
        aligned = self._aligned
        for lo, hi, key in self._out_rows:
            out[lo:hi, :n] = aligned[key]
        for lo, hi in self._silent_rows:  # the callback's own (inline) rows
            out[lo:hi, :n] = 0.0

    def audio(self, node: str, port: str = "audio") -> np.ndarray:
        """The last push's aligned audio of ``node.port`` (``[width, n]`` host rate, a view)."""
        return self._aligned[(node, port)]

    def finish(self) -> list[Event]:
        """End of input: flush what the input resamplers held back and send it."""
        events: list[Event] = []
        for node in self.nodes:
            events.extend(node.flush())
        self._deliver(events)
        return events

    def _deliver(self, events: list[Event]) -> None:
        if not events:
            return
        if self.t_end is not None:
            events[:] = [e for e in events if e.t < self.t_end]
        events.sort(key=_by_t)
        self.stats.events += len(events)
        for sink in self.sinks:
            sink.send(events)

    def send_status(self, extra: dict) -> None:
        """Send a status record (xruns, misses, load, latency) to every sink."""
        for sink in self.sinks:
            sink.status(extra)

    def close(self) -> None:
        """Close every sink (flush files, close sockets) and the control server — all of them,
        even when one fails; then the first failure is raised."""
        first: BaseException | None = None
        for closeable in self.sinks + ([self.control] if self.control is not None else []):
            try:
                closeable.close()
            except Exception as exc:  # the others must still be closed (their files renamed)
                first = first or exc
        if first is not None:
            raise first

    # -- reports --------------------------------------------------------------------------
    def missed_hops(self) -> dict[str, int]:
        """Hops each node missed, by node name."""
        return {n.name: n.missed_hops for n in self.nodes}

    def measured(self) -> dict[str, dict[str, float]]:
        """``Processor.measured()`` of the nodes that report any, by node name."""
        return {n.name: dict(figures) for n in self.nodes if (figures := n.processor.measured())}

    def lane_keys(self) -> list[str]:
        """The node names, in order (the keys of ``missed_hops`` and ``latency_report``)."""
        return [n.name for n in self.nodes]

    def miss_policies(self) -> dict[str, str]:
        """Each node's miss policy, by node name."""
        return {n.name: n.miss_policy for n in self.nodes}

    def latency_report(self) -> list[dict]:
        """Per node, the declared latencies (``core.latency.latency_row``), after ``prepare``."""
        return [{**latency_row(self.timings[n.name], self.max_block, _audio_width(n), n.miss_policy),
                 "placement": n.placement} for n in self.nodes]

    def max_latency_ms(self, events_only: bool = False) -> float:
        """The slowest path's declared latency (``latency.total_ms``), ms; 0 for no such node."""
        rows = [r for r, n in zip(self.latency_report(), self.nodes) if not (events_only and n.aligners)]
        return max((total_ms(r) for r in rows), default=0.0)

    def audio_delay_samples(self, node: str) -> float:
        """Host samples by which ``node``'s aligned audio outputs lag the input (may be fractional)."""
        return self.timings[node].out_delay_samples()

    # -- control --------------------------------------------------------------------------
    def apply_control(self, target: str, param: str, value: float) -> None:
        """Set ``param`` on node ``target`` (or every node of task ``target``), range-checked.

        Raises:
            KeyError: no such node or task, or it has no such parameter.
            ValueError: the value is outside the parameter's declared range.
        """
        matched = [n for n in self.nodes if n.name == target] or \
                  [n for n in self.nodes if n.processor.task == target]
        if not matched:
            raise KeyError(f"no node or task named {target!r} (nodes: {', '.join(self.lane_keys())})")
        for node in matched:
            specs = {p.name: p for p in node.desc.params}
            v = specs[param].check(value) if param in specs else value
            part = self._deferred.get(node.name)
            if part is not None:
                if param not in specs:
                    raise KeyError(f"{node.name} has no parameter {param!r}")
                part.set_param(node, param, v)  # applied by the thread that runs the node
            else:
                node.processor.set_param(param, v)


def _by_t(e: Event) -> float:
    return e.t


def _audio_width(node: Node) -> int:
    return sum(a.out.shape[0] for a in node.aligners.values())
