"""The engine's own cost per push: trivial processors, so what is timed is the plumbing.

    5 trivial nodes on one mono input at 48 kHz, host block 64 (1.33 ms):
      3 event nodes (hop 32, no work, no events)   2 audio nodes (hop 16, copy in → out)
    time every ``Engine.push`` (channel maps, adapters, audio routing, control, sanitising)

This is the figure the graph issue asks for ("µs per push, p50/p99", before and after the
hot-path work); ``rtmir bench --overhead`` prints it and records it in the JSON document.
On a checkout without that option, call ``engine_overhead()`` directly (docs/BENCHMARKS.md).
"""
from __future__ import annotations

import time

import numpy as np

from ..core.engine import Engine
from ..core.processor import Event, ProcessSpec, Processor


class NullProcessor(Processor):
    """Does nothing per hop: no events; audio processors copy their input to ``out``.

    Args:
        hop: hop size in samples.
        audio: whether it produces (copied) audio.
        name: the task name (and node name).
    """

    channels = 1

    def __init__(self, hop: int, audio: bool, name: str) -> None:
        self.task = name
        self.hop_size = hop
        self.output_channels = 1 if audio else 0
        self.result = None if audio else "raw"

    def prepare(self, spec: ProcessSpec) -> None:
        """Nothing to allocate."""

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        if out is not None:
            out[:] = block
        return []

    def reset(self) -> None:
        """No state."""


def trivial_processors() -> list[Processor]:
    """The five trivial processors of the overhead figure (3 event, 2 audio)."""
    return [NullProcessor(32, False, f"null{i}") for i in range(3)] + \
        [NullProcessor(16, True, f"copy{i}") for i in range(2)]


def engine_overhead(block: int = 64, sample_rate: int = 48000, seconds: float = 20.0,
                    warmup_pushes: int = 200) -> dict:
    """Time ``Engine.push`` over ``seconds`` of noise with the trivial processors.

    Returns:
        ``{"block", "sample_rate", "nodes", "pushes", "p50_us", "p99_us", "max_us", "mean_us"}``.
    """
    engine = Engine(trivial_processors())
    engine.prepare(sample_rate, 1, block)
    pushes = int(seconds * sample_rate / block)
    x = (0.1 * np.random.default_rng(0).standard_normal((1, block * 64))).astype(np.float32)
    out = np.zeros((max(engine.output_channels, 1), block), np.float32)
    took = np.zeros(pushes)
    for i in range(pushes):
        start = (i % 64) * block
        blk = x[:, start:start + block]
        t = time.perf_counter()
        engine.push(blk, out)
        took[i] = time.perf_counter() - t
    us = took[warmup_pushes:] * 1e6
    p50, p99 = np.percentile(us, [50, 99])
    return {"block": block, "sample_rate": sample_rate, "nodes": len(engine.processors), "pushes": int(us.size),
            "p50_us": float(p50), "p99_us": float(p99), "max_us": float(us.max()), "mean_us": float(us.mean())}
