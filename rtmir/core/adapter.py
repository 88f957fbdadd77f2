"""BlockAdapter: host blocks of any size in, whole hops out (DESIGN.md, contract 3).

The host's block size (1…8192) is independent of a processor's hop. The adapter keeps the
samples that do not yet fill a hop and calls the processor once per push with every whole hop
that is ready (several hops in one call when the block is large)::

    host blocks:   |--37--|---------150---------|-5-|
    hop = 64:      [  64  ][  64  ][  64  ]  (remainder carried)
    calls:          1 call (0 hops) · 1 call of 2 hops · ...

Event times come from the processor's own sample counter, so they do not depend on the host's
block sizes. Audio processors get their output delayed by ``hop_size - 1`` samples, the least
that always works: after a push of ``n`` samples at least ``n - (hop - 1)`` new output samples
exist, so an output FIFO primed with ``hop - 1`` zeros always holds a whole block
(``audio_latency_samples``; 0 for hop 1). Inside a graph the nodes do this (``core/node.py``,
with miss policies and deadlines); the adapter serves ``Chain`` and library callers.
"""
from __future__ import annotations

import numpy as np

from .fifo import shift_left
from .processor import Event, ProcessSpec, Processor


class BlockAdapter:
    """Wrap a processor so it can be pushed blocks of any length.

    Args:
        processor: the wrapped processor (prepared by ``prepare``).
        max_hops_per_call: cap on hops per ``process`` call (None: all that are ready).
    """

    def __init__(self, processor: Processor, max_hops_per_call: int | None = None) -> None:
        self.processor = processor
        self.max_hops_per_call = max_hops_per_call
        self._buf = np.zeros((1, 0), np.float32)
        self._fill = 0
        self._t0 = 0
        self._out_fifo: np.ndarray | None = None
        self._out_fill = 0
        self.max_chunk_samples = 0

    @property
    def hop_size(self) -> int:
        return self.processor.hop_size

    @property
    def audio_latency_samples(self) -> int:
        """Delay the adapter adds to an audio processor's output (0 for event processors)."""
        return self.processor.hop_size - 1 if self.processor.output_channels else 0

    @property
    def samples_seen(self) -> int:
        """Samples processed so far (whole hops), at the processor's rate."""
        return self._t0

    def prepare(self, spec: ProcessSpec) -> None:
        """Prepare the processor, then allocate for host blocks up to ``spec.max_block``.

        ``spec`` is at the processor's own rate and channels (after any resampling/downmix).
        The processor is prepared first because its hop may depend on the rate; it then receives
        chunks of at most ``max(spec.max_block, hop_size)`` samples (``max_chunk_samples``).
        """
        self.processor.prepare(spec)
        hop = self.processor.hop_size
        self.max_chunk_samples = max(hop, (spec.max_block // hop) * hop)
        if self.max_hops_per_call:
            self.max_chunk_samples = min(self.max_chunk_samples, self.max_hops_per_call * hop)
        capacity = spec.max_block + hop
        self._buf = np.zeros((spec.channels, capacity), np.float32)
        self._scratch = np.zeros(capacity + self.max_chunk_samples + hop, np.float32)
        n_out = self.processor.output_channels
        if n_out:
            self._chunk_out = np.zeros((n_out, self.max_chunk_samples), np.float32)
            self._out_fifo = np.zeros((n_out, capacity + self.max_chunk_samples + hop), np.float32)
        self.reset()

    def reset(self) -> None:
        """Drop buffered samples, restart the sample counter and reset the processor."""
        self._fill = 0
        self._t0 = 0
        if self._out_fifo is not None:
            self._out_fifo.fill(0)
            self._out_fill = self.processor.hop_size - 1
        self.processor.reset()

    def push(self, block: np.ndarray, out: np.ndarray | None = None) -> list[Event]:
        """Add a block; run the processor on every whole hop now ready.

        Args:
            block: ``[channels, n]`` float32, any ``n >= 0``.
            out: ``[output_channels, n]`` to receive audio (audio processors only), delayed by
                ``audio_latency_samples``.

        Returns:
            The events of the hops processed during this push, in time order.
        """
        events: list[Event] = []
        n = block.shape[1]
        pos = 0
        while pos < n:
            take = min(n - pos, self._buf.shape[1] - self._fill)
            self._buf[:, self._fill:self._fill + take] = block[:, pos:pos + take]
            self._fill += take
            pos += take
            self._run_ready(events)
        if out is not None:
            self._pop_audio(out)
        return events

    def _run_ready(self, events: list[Event]) -> None:
        hop = self.processor.hop_size
        start = 0
        while self._fill - start >= hop:
            ready = min(((self._fill - start) // hop) * hop, self.max_chunk_samples)
            chunk = self._buf[:, start:start + ready]
            if self._out_fifo is None:
                events.extend(self.processor.process(chunk, self._t0))
            else:
                produced = self._chunk_out[:, :ready]
                events.extend(self.processor.process(chunk, self._t0, produced))
                self._out_fifo[:, self._out_fill:self._out_fill + ready] = produced
                self._out_fill += ready
            self._t0 += ready
            start += ready
        if start:
            self._fill = shift_left(self._buf, start, self._fill, self._scratch)

    def _pop_audio(self, out: np.ndarray) -> None:
        n = out.shape[1]
        out[:] = self._out_fifo[:, :n]
        self._out_fill = shift_left(self._out_fifo, n, self._out_fill, self._scratch)
