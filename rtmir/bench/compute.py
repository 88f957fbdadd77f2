"""Compute benchmark: per-hop processing time and real-time factor, per processor and block size.

A processor is wrapped in ``TimedProcessor`` (same interface, records the duration of every
``process`` call and how many hops it covered into preallocated arrays) and streamed a
synthetic signal (harmonic tones, a glide and noise) through a real ``Engine`` in host blocks of
the requested size. The first ``warmup_seconds`` of calls are excluded from the statistics and
reported separately. Per-hop time = call time / hops in the call.

Besides one row per processor, each block size gets an ``engine`` row: the whole ``Engine.push``
per host block (every lane, channel mapping, resampling, sorting events), where ``hop_size`` is
the block and "per hop" means per block. ``histogram`` gives log-spaced counts of the per-hop
times for the plot.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..core.engine import Engine
from ..core.processor import Event, ProcessSpec, Processor


class TimedProcessor(Processor):
    """Wrap a processor and time each ``process`` call (bench only; adds ~1 µs per call)."""

    def __init__(self, inner: Processor, max_calls: int) -> None:
        self.inner = inner
        self.task = inner.task
        self.sample_rate = inner.sample_rate
        self.channels = inner.channels
        self.output_channels = inner.output_channels
        self.result = inner.result
        self.param_specs = inner.param_specs
        self.durations = np.zeros(max_calls)
        self.hops = np.zeros(max_calls, np.int64)
        self.calls = 0

    def prepare(self, spec: ProcessSpec) -> None:
        start = time.perf_counter()
        self.inner.prepare(spec)
        self.prepare_seconds = time.perf_counter() - start
        self.hop_size = self.inner.hop_size
        self.latency_samples = self.inner.latency_samples

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        start = time.perf_counter()
        events = self.inner.process(block, t0, out)
        i = self.calls
        if i < len(self.durations):
            self.durations[i] = time.perf_counter() - start
            self.hops[i] = block.shape[1] // self.hop_size
            self.calls = i + 1
        return events

    def reset(self) -> None:
        self.inner.reset()


def test_signal(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Mono float32 ``[1, n]``: harmonic notes, a glide, silence and noise (deterministic)."""
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    f0 = 110.0 * 2 ** (np.floor(t * 2) % 24 / 12)  # a new semitone every 0.5 s
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6))
    x += 0.01 * np.random.default_rng(seed).standard_normal(n)
    return x.astype(np.float32)[None]


@dataclass(frozen=True)
class ComputeResult:
    """One processor at one block size. Times in microseconds; rtf = compute s / audio s."""

    processor: str
    block: int
    sample_rate: int
    hop_size: int
    hops: int
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    rtf: float
    block_budget_us: float
    warmup_calls: int
    prepare_ms: float
    hop_budget_us: float = 0.0  # the hop's own duration: the budget of a processor whose hops spread evenly
    warmup_max_us: float = 0.0  # the slowest per-hop time among the excluded warm-up calls


#: Histogram bin edges (µs), log-spaced from 1 µs to 1 s, shared by every row.
HIST_EDGES_US = np.logspace(0, 6, 61)


def histogram(per_hop_us: np.ndarray) -> list[int]:
    """Counts of ``per_hop_us`` in ``HIST_EDGES_US`` (values outside are clipped into the end bins)."""
    clipped = np.clip(per_hop_us, HIST_EDGES_US[0], HIST_EDGES_US[-1] * 0.999)
    return np.histogram(clipped, HIST_EDGES_US)[0].astype(int).tolist()


def bench_compute(make_processors, block: int, sample_rate: int = 48000, seconds: float = 10.0,
                  warmup_seconds: float = 0.5, histograms: list | None = None) -> list[ComputeResult]:
    """Stream the test signal through fresh processors at one host block size.

    Args:
        make_processors: callable returning a new list of processors.
        block: host block size (samples at ``sample_rate``).
        sample_rate: host rate (Hz).
        seconds: test signal length.
        warmup_seconds: audio time at the start excluded from the statistics.
        histograms: if given, one ``{"processor", "block", "counts"}`` per row is appended.

    Returns:
        One row per processor (node names, as ``Engine.lane_keys``), then the ``engine`` row.
    """
    x = test_signal(sample_rate, seconds)
    timed = [TimedProcessor(p, max_calls=x.shape[1] + 1) for p in make_processors()]
    engine = Engine(timed)
    engine.prepare(sample_rate, 1, block)
    push_s = np.zeros(-(-x.shape[1] // block))
    for i, start in enumerate(range(0, x.shape[1], block)):
        t = time.perf_counter()
        engine.push(x[:, start:start + block].copy())
        push_s[i] = time.perf_counter() - t
    results, samples = [], []
    for key, node, tp in zip(engine.lane_keys(), engine.nodes, timed):
        r, per_hop = _summarise(tp, node.rate, block, sample_rate, warmup_seconds)
        results.append(dataclasses.replace(r, processor=key))
        samples.append(per_hop)
    r, per_block = _summarise_engine(push_s, block, sample_rate, warmup_seconds)
    results.append(r)
    samples.append(per_block)
    if histograms is not None:
        histograms += [{"processor": r.processor, "block": block, "counts": histogram(h)}
                       for r, h in zip(results, samples)]
    return results


def _stats(per_hop_us: np.ndarray) -> tuple[float, float, float, float]:
    if not per_hop_us.size:
        return 0.0, 0.0, 0.0, 0.0
    q = np.percentile(per_hop_us, [50, 99, 99.9])
    return float(q[0]), float(q[1]), float(q[2]), float(per_hop_us.max())


def _summarise(tp: TimedProcessor, rate: int, block: int, host_rate: int, warmup: float):
    d, h = tp.durations[:tp.calls], tp.hops[:tp.calls]
    hop_time = tp.hop_size / rate
    covered = np.cumsum(h) * hop_time
    skip = int(np.searchsorted(covered, warmup))
    per_hop = np.repeat(d[skip:] / np.maximum(h[skip:], 1), h[skip:]) * 1e6
    warm = d[:skip] / np.maximum(h[:skip], 1) * 1e6
    audio = max(covered[-1] - (covered[skip - 1] if skip else 0.0), 1e-9) if covered.size else 1e-9
    p50, p99, p999, top = _stats(per_hop)
    return ComputeResult(
        processor=tp.task, block=block, sample_rate=rate, hop_size=tp.hop_size, hops=int(per_hop.size),
        p50_us=p50, p99_us=p99, p999_us=p999, max_us=top,
        rtf=float(d[skip:].sum() / audio), block_budget_us=1e6 * block / host_rate,
        warmup_calls=skip, prepare_ms=1e3 * tp.prepare_seconds, hop_budget_us=1e6 * hop_time,
        warmup_max_us=float(warm.max()) if warm.size else 0.0,
    ), per_hop


def _summarise_engine(push_s: np.ndarray, block: int, rate: int, warmup: float):
    skip = min(int(np.ceil(warmup * rate / block)), len(push_s))
    per_block = push_s[skip:] * 1e6
    p50, p99, p999, top = _stats(per_block)
    budget = 1e6 * block / rate
    return ComputeResult(
        processor="engine", block=block, sample_rate=rate, hop_size=block, hops=int(per_block.size),
        p50_us=p50, p99_us=p99, p999_us=p999, max_us=top,
        rtf=float(per_block.sum() / max(per_block.size * budget, 1e-9)), block_budget_us=budget,
        warmup_calls=skip, prepare_ms=0.0, hop_budget_us=budget,
        warmup_max_us=float(push_s[:skip].max() * 1e6) if skip else 0.0,
    ), per_block
