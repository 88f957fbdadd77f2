"""Compute benchmark: per-hop processing time and real-time factor, per processor and block size.

A processor is wrapped in ``TimedProcessor`` (same interface, records the duration of every
``process`` call and how many hops it covered into preallocated arrays) and streamed a
synthetic signal (harmonic tones, a glide and noise) through a real ``Engine`` in host blocks of
the requested size. The first ``warmup_seconds`` of calls are excluded from the statistics and
reported separately. Per-hop time = call time / hops in the call.
"""
from __future__ import annotations

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


def bench_compute(make_processors, block: int, sample_rate: int = 48000, seconds: float = 10.0,
                  warmup_seconds: float = 0.5) -> list[ComputeResult]:
    """Stream the test signal through fresh processors at one host block size.

    Args:
        make_processors: callable returning a new list of processors.
        block: host block size (samples at ``sample_rate``).
    """
    x = test_signal(sample_rate, seconds)
    timed = [TimedProcessor(p, max_calls=x.shape[1] + 1) for p in make_processors()]
    engine = Engine(timed)
    engine.prepare(sample_rate, 1, block)
    for start in range(0, x.shape[1], block):
        engine.push(x[:, start:start + block].copy())
    results = []
    for lane, tp in zip(engine.lanes, timed):
        results.append(_summarise(tp, lane.rate, block, sample_rate, seconds, warmup_seconds))
    return results


def _summarise(tp: TimedProcessor, rate: int, block: int, host_rate: int, seconds: float, warmup: float) -> ComputeResult:
    d, h = tp.durations[:tp.calls], tp.hops[:tp.calls]
    hop_time = tp.hop_size / rate
    covered = np.cumsum(h) * hop_time
    skip = int(np.searchsorted(covered, warmup))
    per_hop = np.repeat(d[skip:] / np.maximum(h[skip:], 1), h[skip:]) * 1e6
    audio = max(covered[-1] - (covered[skip - 1] if skip else 0.0), 1e-9)
    q = np.percentile(per_hop, [50, 99, 99.9]) if per_hop.size else [0.0, 0.0, 0.0]
    return ComputeResult(
        processor=tp.task, block=block, sample_rate=rate, hop_size=tp.hop_size, hops=int(per_hop.size),
        p50_us=float(q[0]), p99_us=float(q[1]), p999_us=float(q[2]),
        max_us=float(per_hop.max()) if per_hop.size else 0.0,
        rtf=float(d[skip:].sum() / audio), block_budget_us=1e6 * block / host_rate,
        warmup_calls=skip, prepare_ms=1e3 * tp.prepare_seconds,
    )
