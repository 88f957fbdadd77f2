"""A delay line (``--task delay``): audio in, the same audio ``delay_samples`` later, nothing else.

The simplest audio processor: a latency-compensation utility, and the known answer for every
audio-path measurement (``rtmir bench --task delay --e2e``: clicks must come back exactly
``delay_samples`` + the declared buffering later). Its only work is two copies per call, so it
is ``callback_safe``: it may be placed ``inline`` (run in the audio callback).
"""
from __future__ import annotations

import numpy as np

from ..core.processor import Event, ProcessSpec, Processor


class DelayProcessor(Processor):
    """``out[c, i] = in[c, i - delay_samples]`` per channel, any rate, hop 1.

    Args:
        delay_samples: the delay (≥ 0), also its declared latency.
        channels: channels in and out.
    """

    task = "delay"
    result = None  # audio only
    callback_safe = True
    hop_size = 1

    def __init__(self, delay_samples: int = 100, channels: int = 1) -> None:
        if delay_samples < 0 or channels < 1:
            raise ValueError(f"need delay_samples >= 0 and channels >= 1, got {delay_samples}, {channels}")
        self.latency_samples = delay_samples
        self.channels = channels
        self.output_channels = channels
        self._line = np.zeros((channels, 0), np.float32)

    def prepare(self, spec: ProcessSpec) -> None:
        self._line = np.zeros((self.channels, self.latency_samples + max(spec.max_block, 1)), np.float32)

    def reset(self) -> None:
        self._line.fill(0.0)

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        n, d = block.shape[1], self.latency_samples
        line = self._line
        line[:, d:d + n] = block
        out[:] = line[:, :n]
        if d:  # keep the last d samples: rows copied one at a time (no overlapping 2-D view)
            for c in range(self.channels):
                line[c, :d] = line[c, n:n + d]
        return []
