"""Small processors with declared ports for the graph tests (exact, state carried, no models).

- ``Delay``: audio in → audio out delayed by ``delay`` samples (its declared latency), any rate/hop.
- ``Stems``: audio in → two audio outputs, ``a`` (mono: the input) and ``b`` (stereo: -input).
- ``Clicks``: audio in → one event per sample above 0.5 (``t`` = the instant it describes).
- ``TokenSource`` / ``TokenSink``: tokens out / tokens in, for edge-type checks.
- ``Slow``: an event processor that sleeps ``seconds`` per call (per-node deadline tests).
"""
from __future__ import annotations

import time

import numpy as np

from rtmir.core.ports import Description, Port
from rtmir.core.processor import Event, ProcessSpec, Processor


class Delay(Processor):
    """``out[i] = in[i - delay]`` at its own rate, in steps of ``hop`` (audio only: no events)."""

    channels = 1
    output_channels = 1
    result = None
    callback_safe = True

    def __init__(self, delay: int, hop: int = 1, rate: int | None = None, task: str = "delay") -> None:
        self.task, self.delay, self.hop_size, self.sample_rate = task, delay, hop, rate
        self.latency_samples = delay

    def prepare(self, spec: ProcessSpec) -> None:
        self._hist = np.zeros(self.delay + max(spec.max_block, self.hop_size), np.float32)

    def reset(self) -> None:
        self._hist[:] = 0.0

    def process(self, block, t0, out=None):
        n, d = block.shape[1], self.delay
        self._hist[d:d + n] = block[0]
        out[0] = self._hist[:n]
        self._hist[:d] = self._hist[n:n + d]
        return []


class Stems(Processor):
    """Two audio outputs of different widths."""

    task = "stems"
    channels = 1

    def describe(self) -> Description:
        return Description(self.task, (Port("audio", "audio", 1),),
                           (Port("a", "audio", 1), Port("b", "audio", 2), Port("levels", "events", result="levels")))

    def prepare(self, spec: ProcessSpec) -> None:
        pass

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        out["a"][:] = block
        out["b"][:] = -block
        return []


class Clicks(Processor):
    """One event per sample above 0.5, stamped with the instant it describes."""

    task = "clicks"
    channels = 1
    result = "raw"

    def __init__(self, rate: int | None = None) -> None:
        self.sample_rate = rate

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        return [Event(self.task, (t0 + int(i)) / self.rate, {"peak": float(block[0, i])})
                for i in np.flatnonzero(block[0] > 0.5)]


class TokenSource(Processor):
    """Tokens out: ``q`` codebooks at ``rate / hop`` frames per second."""

    task = "tokens"
    channels = 1

    def __init__(self, q: int = 2, hop: int = 16, rate: int = 16000) -> None:
        self.q, self.hop_size, self.sample_rate = q, hop, rate

    def describe(self) -> Description:
        return Description(self.task, (Port("audio", "audio", 1, self.sample_rate, self.hop_size),),
                           (Port("tokens", "tokens", self.q, self.sample_rate, self.hop_size),))

    def prepare(self, spec: ProcessSpec) -> None:
        pass

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        frames = block.shape[1] // self.hop_size
        out["tokens"][:] = (block[0, ::self.hop_size][:frames] > 0).astype(np.int64)
        return []


class TokenSink(Processor):
    """Tokens in, audio out."""

    task = "detok"
    channels = 1

    def __init__(self, q: int = 2, hop: int = 16, rate: int = 16000) -> None:
        self.q, self.hop_size, self.sample_rate = q, hop, rate
        self.output_channels = 1

    def describe(self) -> Description:
        return Description(self.task, (Port("tokens", "tokens", self.q, self.sample_rate, self.hop_size),),
                           (Port("audio", "audio", 1, self.sample_rate, self.hop_size),))

    def prepare(self, spec: ProcessSpec) -> None:
        pass

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        out[0] = np.repeat(block[0].astype(np.float32), self.hop_size)
        return []


class Slow(Processor):
    """An event processor that takes ``seconds`` per call (one event per hop)."""

    task = "slow"
    channels = 1

    def __init__(self, seconds: float, hop: int = 128) -> None:
        self.seconds, self.hop_size = seconds, hop

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        time.sleep(self.seconds)
        return [Event(self.task, (t0 + (k + 1) * self.hop_size) / self.rate, {"k": float(k)})
                for k in range(block.shape[1] // self.hop_size)]
