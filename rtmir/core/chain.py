"""Chain: processors in series — audio out of one is audio into the next (DESIGN.md).

Each member sits behind its own ``BlockAdapter``, so members may have different hops; the chain
itself accepts any block length (``hop_size = 1``). Its latency is the sum of the members'
algorithmic latencies plus the ``hop - 1`` samples each audio adapter adds::

    in ──► [adapter(h1) → p1] ──► [adapter(h2) → p2] ──► out
    latency = (p1.latency + h1 - 1) + (p2.latency + h2 - 1)      (0 for pure event members)

Events of every member are stamped in their own member's time and returned together. All
members run at the chain's rate and channel count; the last member may be an event processor.
"""
from __future__ import annotations

import numpy as np

from .adapter import BlockAdapter
from .processor import Event, ProcessSpec, Processor


class Chain(Processor):
    """Serial composition of processors.

    Args:
        processors: members, first to last; every member but the last must produce audio with
            as many channels as it takes.
    """

    def __init__(self, processors: list[Processor]) -> None:
        if not processors:
            raise ValueError("a chain needs at least one processor")
        for p in processors[:-1]:
            if not p.output_channels:
                raise ValueError(f"chain member {p.task!r} produces no audio, so nothing can follow it")
        self.members = list(processors)
        self.adapters = [BlockAdapter(p) for p in processors]
        last = processors[-1]
        self.task = "chain"
        self.sample_rate = processors[0].sample_rate
        self.channels = processors[0].channels
        self.output_channels = last.output_channels
        self.hop_size = 1

    @property
    def latency_samples(self) -> int:
        """Sum over members of their latency plus their adapter's audio delay."""
        return sum(a.processor.latency_samples + a.audio_latency_samples for a in self.adapters)

    def prepare(self, spec: ProcessSpec) -> None:
        channels = spec.channels
        for a in self.adapters:
            a.prepare(ProcessSpec(spec.sample_rate, spec.max_block, channels))
            channels = a.processor.output_channels or channels
        width = max(a.processor.output_channels for a in self.adapters) or 1
        self._scratch = [np.zeros((width, spec.max_block), np.float32) for _ in range(2)]

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        events: list[Event] = []
        x = block
        n = block.shape[1]
        for i, a in enumerate(self.adapters):
            last = i == len(self.adapters) - 1
            if a.processor.output_channels:
                y = out if (last and out is not None) else self._scratch[i % 2][:a.processor.output_channels, :n]
                events.extend(a.push(x, y))
                x = y
            else:
                events.extend(a.push(x))
        return events

    def reset(self) -> None:
        for a in self.adapters:
            a.reset()
