"""The validator's host: build a subject, drive it through a real ``Engine``, keep what comes out.

A *subject* is anything the validator checks: one processor (``--task``, ``--model``), a graph
node, or a whole graph. It is a factory, because most checks need fresh instances::

    Subject("pitch", build)        build() -> Graph (fresh processors every call)
        │ Run(subject, rate, channels, max_block)   Engine(graph, [capture]) — as a host builds it
        │   .prepare()                              engine.prepare(rate, channels, max_block)
        │   .feed(signal [C, N], blocks)            engine.push(copy of each block), as hosts do
        ▼   .output()                               Output: events, every aligned audio port, tokens

Blocks are copied before each push: the engine replaces NaN/Inf in place (hosts hand it their own
buffers), and the validator reuses its signals. Nothing here is mocked: the processors, the
engine's channel maps, resamplers, steps and aligners are the ones every host runs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..core.engine import Engine
from ..core.graph import Graph, parallel_graph
from ..core.processor import Event, Processor

#: Largest difference (relative above 1, e.g. Hz) allowed where outputs must agree, per kind.
TOL_MODEL = 1e-4  # an ONNX model's outputs (DESIGN.md contract 1: stream = offline)
TOL_DSP = 1e-6  # float32 arithmetic whose rounding depends on the chunking (a tone's phase)


@dataclass(frozen=True)
class Subject:
    """What is validated: a name and a factory of fresh graphs.

    Attributes:
        name: shown in the table ("pitch", "model:pitch-tcn", "g.toml", "g.toml:yin").
        build: returns a new, unprepared ``Graph`` with new processors on every call.
    """

    name: str
    build: Callable[[], Graph]

    @classmethod
    def of(cls, name: str, make: Callable[[], Processor]) -> "Subject":
        """One processor on the host input, the way ``--task`` runs it."""
        return cls(name, lambda: parallel_graph([make()]))


@dataclass(frozen=True)
class NodeFacts:
    """What a check needs to know about one node, read before anything is prepared."""

    name: str
    desc: object  # core.ports.Description
    model: bool  # runs an ONNX session (stream = offline applies)
    generator: bool  # no data input: the host block is only its clock
    tokens_in: bool  # steps on tokens from an upstream node (not host-drivable alone)
    model_rate: int | None  # the session's rate, if a model
    initial: dict  # parameter values the subject's own configuration sets (a graph file's params)


@dataclass(frozen=True)
class Facts:
    """Per-subject facts (``facts(subject)``)."""

    nodes: tuple[NodeFacts, ...]

    @property
    def model(self) -> bool:
        return any(n.model for n in self.nodes)

    @property
    def listens(self) -> bool:
        """Some node hears the host input (directly or through other nodes)."""
        return any(not n.generator for n in self.nodes)

    @property
    def tolerance(self) -> float:
        return TOL_MODEL if self.model else TOL_DSP

    @property
    def pitch_nodes(self) -> frozenset[str]:
        """Nodes whose events are of result kind "pitch" (``compare``'s f0 weighting)."""
        return frozenset(n.name for n in self.nodes if n.desc.result == "pitch")

    @property
    def change_nodes(self) -> frozenset[str]:
        """Nodes whose events are changes, not frames (result kind "notes": a note-on or -off only
        when one happens, so how many depends on the audio)."""
        return frozenset(n.name for n in self.nodes if n.desc.result == "notes")

    @property
    def params(self) -> list[tuple[str, object]]:
        """``(node name, Param)`` for every declared parameter."""
        return [(n.name, p) for n in self.nodes for p in n.desc.params]


def facts(subject: Subject) -> Facts:
    """Build the subject once and describe its nodes (nothing is prepared)."""
    from ..session import StreamingSession

    graph = subject.build()
    out = []
    for g in graph.nodes:
        session = getattr(g.processor, "session", None)
        fed = [p for p in g.desc.inputs if p.is_data and p.name in g.sources]
        out.append(NodeFacts(g.name, g.desc, isinstance(session, StreamingSession), not fed,
                             bool(fed) and fed[0].kind != "audio",
                             session.sample_rate if isinstance(session, StreamingSession) else None,
                             dict(g.spec.params)))
    return Facts(tuple(out))


class Capture:
    """A sink that keeps every event as ``(node, t, values)`` (values copied)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float, dict]] = []

    def send(self, events: list[Event]) -> None:
        self.events.extend((e.node, e.t, dict(e.values)) for e in events)

    def status(self, stats: dict) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Output:
    """Everything a run produced since it was prepared (or ``restart``-ed).

    Attributes:
        events: ``(node, t seconds, values)`` in delivery order.
        audio: ``"node.port"`` → ``[width, samples]`` at the host rate (aligned, as routed).
        tokens: ``"node.port"`` → ``[codebooks, frames]``.
        nonfinite_replaced: NaN/Inf input samples the engine replaced by 0.
        underruns: pushes on which an audio port's aligner ran dry (a declared delay too short).
        samples_in: host samples pushed.
    """

    events: list[tuple[str, float, dict]]
    audio: dict[str, np.ndarray]
    tokens: dict[str, np.ndarray]
    nonfinite_replaced: int = 0
    underruns: int = 0
    samples_in: int = 0


class Run:
    """One engine over a fresh build of ``subject``, fed like a host feeds it.

    Args:
        subject: what to build.
        rate, channels: the host's input format.
        max_block: the largest block the host promises (``engine.prepare``'s ``max_block``).
    """

    def __init__(self, subject: Subject, rate: int, channels: int, max_block: int) -> None:
        self.capture = Capture()
        self.engine = Engine(subject.build(), [self.capture])
        self.rate, self.channels, self.max_block = rate, channels, max_block
        self.push_seconds: list[float] = []

    def prepare(self) -> "Run":
        """``engine.prepare`` as a host calls it; returns self."""
        self.engine.prepare(self.rate, self.channels, self.max_block)
        self._ports = [(f"{n.name}.{p}", n.name, p) for n in self.engine.nodes for p in n.aligners]
        self._token_ports = [(f"{n.name}.{p.name}", n, p.name) for n in self.engine.nodes
                             for p in n.data_outputs if p.kind == "tokens"]
        self.restart()
        return self

    def restart(self) -> None:
        """Forget the output captured so far (the engine keeps its state)."""
        self.capture.events.clear()
        self._audio: dict[str, list[np.ndarray]] = {k: [] for k, _, _ in self._ports}
        self._tokens: dict[str, list[np.ndarray]] = {k: [] for k, _, _ in self._token_ports}
        self._base = (self.engine.stats.nonfinite_samples, self._underruns(), self.engine.stats.samples_in)
        self.push_seconds = []

    def push(self, block: np.ndarray) -> float:
        """Push a copy of ``block [C, n]``; keep its audio and tokens; return the push's seconds."""
        b = np.array(block, np.float32, order="C")
        start = time.perf_counter()
        self.engine.push(b)
        took = time.perf_counter() - start
        for key, node, port in self._ports:
            self._audio[key].append(self.engine.audio(node, port).copy())
        for key, node, port in self._token_ports:
            self._tokens[key].append(node.produced[port].copy())
        self.push_seconds.append(took)
        return took

    def feed(self, signal: np.ndarray, blocks: list[int], between: Callable[[int], None] | None = None) -> None:
        """Push ``signal`` cut into ``blocks`` (their sum must be its length); ``between(i)`` is
        called before push ``i`` (parameter changes)."""
        pos = 0
        for i, n in enumerate(blocks):
            if between is not None:
                between(i)
            self.push(signal[:, pos:pos + n])
            pos += n
        if pos != signal.shape[1]:
            raise ValueError(f"blocks cover {pos} samples of a {signal.shape[1]}-sample signal")

    def output(self) -> Output:
        """What was produced since ``prepare``/``restart``."""
        audio = {k: np.concatenate(v, axis=1) if v else np.zeros((0, 0), np.float32) for k, v in self._audio.items()}
        tokens = {k: np.concatenate(v, axis=1) if v else np.zeros((0, 0), np.int64) for k, v in self._tokens.items()}
        nonfinite, under, samples = self._base
        return Output(list(self.capture.events), audio, tokens, self.engine.stats.nonfinite_samples - nonfinite,
                      self._underruns() - under, self.engine.stats.samples_in - samples)

    def _underruns(self) -> int:
        return sum(a.underruns for n in self.engine.nodes for a in n.aligners.values())


def stream(subject: Subject, signal: np.ndarray, rate: int, blocks: list[int], max_block: int | None = None) -> Output:
    """A fresh run of ``subject`` over ``signal [C, N]`` in ``blocks``: its output."""
    run = Run(subject, rate, signal.shape[0], max_block or max(blocks)).prepare()
    run.feed(signal, blocks)
    return run.output()


# -- comparison -------------------------------------------------------------------------------
@dataclass
class Diff:
    """How two outputs differ: the largest value difference and the structural mismatches.

    ``max_diff`` is ``|a - b| / max(1, |a|, |b|)``: absolute for values up to 1 (probabilities,
    samples), relative above (Hz); NaN against NaN counts as equal, NaN against a number as inf.
    """

    max_diff: float = 0.0
    problems: list[str] = field(default_factory=list)

    def ok(self, tol: float) -> bool:
        return not self.problems and self.max_diff <= tol

    def text(self) -> str:
        return "; ".join(self.problems[:3]) if self.problems else f"max Δ {self.max_diff:.1e}"


#: How close event times must be when one run's are shifted by a stream time (float sums).
SHIFT_TOL_S = 1e-9


def compare(a: Output, b: Output, times: bool = True, shift_s: float = 0.0,
            pitch_nodes: frozenset[str] = frozenset()) -> Diff:
    """Compare two outputs: event counts, nodes, times (``b``'s less ``shift_s``: exact, or to
    ``SHIFT_TOL_S`` when shifted; not at all if ``times`` is False), value keys, booleans,
    integers and strings (exact), numbers (``Diff.max_diff``), every audio port (same length,
    values) and every token port (bit for bit).

    ``pitch_nodes`` (for comparisons with a tolerance only): nodes whose events are of result
    kind "pitch"; their ``f0_hz`` differences count in proportion to the frame's confidence.
    An unvoiced frame's f0 carries no information: in near-silence the decoder's weighted
    average divides salience differences of 1e-6 by a salience sum near 0 (measured: 1.4e-4
    relative in 3 of 80 runs of pitch-tcn, whose raw outputs agree to 4e-6).
    """
    d = Diff()
    if len(a.events) != len(b.events):
        d.problems.append(f"{len(a.events)} vs {len(b.events)} events")
    else:
        _compare_events(a.events, b.events, times, shift_s, pitch_nodes, d)
    for key in sorted(set(a.audio) | set(b.audio)):
        x, y = a.audio.get(key), b.audio.get(key)
        if x is None or y is None or x.shape != y.shape:
            d.problems.append(f"audio {key}: shapes {getattr(x, 'shape', None)} vs {getattr(y, 'shape', None)}")
        else:
            d.max_diff = max(d.max_diff, float(_diffs(x, y).max(initial=0.0)))
    for key in sorted(set(a.tokens) | set(b.tokens)):
        x, y = a.tokens.get(key), b.tokens.get(key)
        if x is None or y is None or x.shape != y.shape or not np.array_equal(x, y):
            d.problems.append(f"tokens {key} differ")
    return d


def _compare_events(ea: list, eb: list, times: bool, shift_s: float, pitch_nodes: frozenset[str], d: Diff) -> None:
    for i, ((na, ta, va), (nb, tb, vb)) in enumerate(zip(ea, eb)):
        late = (tb - shift_s != ta) if not shift_s else abs(tb - shift_s - ta) > SHIFT_TOL_S
        if na != nb or (times and late):
            d.problems.append(f"event {i}: {na}@{ta:.6f}s vs {nb}@{tb:.6f}s")
            return
        if va.keys() != vb.keys():
            d.problems.append(f"event {i}: fields {sorted(va)} vs {sorted(vb)}")
            return
    for node in dict.fromkeys(e[0] for e in ea):
        mine = [i for i, e in enumerate(ea) if e[0] == node]
        for key in dict.fromkeys(k for i in mine for k in ea[i][2]):
            idx = [i for i in mine if key in ea[i][2]]
            xa, xb = [ea[i][2][key] for i in idx], [eb[i][2][key] for i in idx]
            if isinstance(xa[0], dict):  # named values (tags: family -> probability): same names, same order
                if any(not isinstance(y, dict) or list(x) != list(y) for x, y in zip(xa, xb)):
                    d.problems.append(f"{node}.{key}: named values differ in names or order")
                    continue
                xa, xb = [list(x.values()) for x in xa], [list(y.values()) for y in xb]
            if isinstance(xa[0], (bool, np.bool_, int, np.integer, str)) or xa[0] is None:
                bad = sum(x != y for x, y in zip(xa, xb))
                if bad:
                    d.problems.append(f"{node}.{key}: {bad} of {len(xa)} events differ")
                continue
            try:
                fa, fb = np.asarray(xa, np.float64), np.asarray(xb, np.float64)
            except (TypeError, ValueError):
                d.problems.append(f"{node}.{key}: values of different shapes")
                continue
            if fa.shape != fb.shape:
                d.problems.append(f"{node}.{key}: shapes {fa.shape} vs {fb.shape}")
                continue
            diff = _diffs(fa, fb)
            if node in pitch_nodes and key == "f0_hz":
                conf = np.array([max(ea[i][2]["confidence"], eb[i][2]["confidence"]) for i in idx], np.float64)
                diff = diff * np.clip(np.nan_to_num(conf, nan=1.0), 0.0, 1.0)
            d.max_diff = max(d.max_diff, float(diff.max(initial=0.0)))


def _diffs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise ``Diff.max_diff`` terms (NaN = NaN and equal infinities count as equal)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    both_nan = np.isnan(x) & np.isnan(y)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(x - y) / np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
    diff = np.where(both_nan | (x == y), 0.0, diff)
    return np.where(np.isnan(diff), np.inf, diff)


def nonfinite(out: Output) -> list[str]:
    """Where an output holds NaN or ±Inf: ``["pitch.f0_hz (3 events)", "delay.audio (12 samples)"]``."""
    bad: dict[str, int] = {}
    for node, _, values in out.events:
        for key, v in values.items():
            if isinstance(v, (bool, np.bool_, str)) or v is None:
                continue
            try:
                finite = bool(np.all(np.isfinite(np.asarray(v, np.float64))))
            except (TypeError, ValueError):
                continue
            if not finite:
                bad[f"{node}.{key}"] = bad.get(f"{node}.{key}", 0) + 1
    where = [f"{k} ({n} events)" for k, n in bad.items()]
    where += [f"{k} ({int((~np.isfinite(a)).sum())} samples)" for k, a in out.audio.items() if not np.isfinite(a).all()]
    return where
