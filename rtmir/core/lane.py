"""Lane: what stands between the host's audio and one processor.

    host block [C_host, n] @ host rate
        │  channel map   (same → pass, many → mean to mono, mono → copy to each)
        │  resampler     (only if the processor needs another rate; core/resample.py)
        ▼  BlockAdapter  (whole hops)
    processor.process(chunk [C_proc, k*hop], t0)

Both resamplers (the default low-latency polyphase one, and soxr's stream) are time-aligned:
an impulse at input time s comes out at output time s, so event times are exact. They hold some
input back (≈ 1 ms vs 21–37 ms for soxr at 48 → 16 kHz), reported as part of the lane's
buffering latency (``resampler_delay_samples``).

Missed deadlines. When the live host is behind (``push(..., missed=True)``), the lane does not
run its processor on the stale block but applies its ``miss_policy``:

    policy   events for each missed hop                          audio for each missed hop
    skip     none                                                silence
    hold     the last event again, ``t`` of that hop, "held": True  the last computed hop repeated
    dry      none                                                the dry input (delayed as usual)

The resampler still consumes the block and the adapter's sample clock advances, so every later
event has the same ``t`` it would have had; each missed hop is counted (``missed_hops``).
"""
from __future__ import annotations

import numpy as np

from .adapter import BlockAdapter
from .resample import make_resampler
from .processor import Event, ProcessSpec, Processor


class ChannelError(ValueError):
    """The host's channels cannot be mapped onto what a processor needs."""


def channel_map(host_channels: int, proc_channels: int) -> str:
    """How host channels become processor channels: "pass", "mean" or "copy".

    Raises:
        ChannelError: neither side is mono and the counts differ.
    """
    if host_channels == proc_channels:
        return "pass"
    if proc_channels == 1:
        return "mean"
    if host_channels == 1:
        return "copy"
    raise ChannelError(
        f"cannot map {host_channels} input channels onto a processor that needs {proc_channels}: "
        "give it mono or exactly that many channels"
    )


class RateError(ValueError):
    """An audio-producing processor would need resampling (not supported yet)."""


#: What a lane does with hops the host could not compute in time (see the module docstring).
MISS_POLICIES = ("skip", "hold", "dry")


class Lane:
    """Host audio → one processor, with channel mapping, resampling and hop buffering.

    Args:
        processor: the processor this lane feeds.
        resample_quality: when rates differ: "low-latency" (``StreamingResampler``, ~1 ms hold;
            live use) or a soxr quality ("QQ", "LQ", "MQ", "HQ", "VHQ"; files).
        miss_policy: "skip", "hold" or "dry" — what a missed hop yields (module docstring).

    Raises:
        ValueError: unknown ``miss_policy``.
    """

    def __init__(self, processor: Processor, resample_quality: str = "low-latency", miss_policy: str = "skip") -> None:
        if miss_policy not in MISS_POLICIES:
            raise ValueError(f"unknown miss policy {miss_policy!r}: use one of {', '.join(MISS_POLICIES)}")
        self.processor = processor
        self.miss_policy = miss_policy
        self.missed_hops = 0
        self._last_event: Event | None = None
        self._last_end = 0
        self.adapter = BlockAdapter(processor)
        self.resample_quality = resample_quality
        self._resampler = None
        self.host_rate = 0
        self.rate = 0
        self.channels = 0
        self.resampler_delay_samples = 0

    def prepare(self, host_rate: int, host_channels: int, max_block: int) -> None:
        """Build the channel map and resampler, then prepare the adapter and processor.

        Raises:
            ChannelError: the channel counts cannot be mapped.
            RateError: an audio-producing processor needs another rate than the host's.
        """
        p = self.processor
        self.host_rate = host_rate
        self.rate = p.sample_rate or host_rate
        if p.output_channels and self.rate != host_rate:
            raise RateError(
                f"{p.task} produces audio at {self.rate} Hz but the host runs at {host_rate} Hz: "
                f"audio processors must run at the host rate for now (use --sample-rate {self.rate})"
            )
        self.channels = p.channels or host_channels
        self._map = channel_map(host_channels, self.channels)
        self._mono = np.zeros((1, max_block), np.float32)
        max_proc_block = max_block
        if self.rate != host_rate:
            max_proc_block = int(np.ceil(max_block * self.rate / host_rate)) + 4096
        self._resample_rebuild()
        self.adapter.prepare(ProcessSpec(self.rate, max_proc_block, self.channels))

    def _resample_rebuild(self) -> None:
        self._resampler = None
        self.resampler_delay_samples = 0
        if self.rate != self.host_rate:
            self._resampler = make_resampler(self.host_rate, self.rate, self.channels, self.resample_quality)
            self.resampler_delay_samples = self._resampler.hold_samples

    def reset(self) -> None:
        """Forget all buffered audio and reset the processor."""
        if self._resampler is not None:
            self._resampler.reset()
        self.adapter.reset()
        self.missed_hops = 0
        self._last_event = None

    def push(self, block: np.ndarray, out: np.ndarray | None = None, missed: bool = False) -> list[Event]:
        """Feed one host block ``[C_host, n]``; returns the events of the hops it completed.

        Args:
            block: host audio.
            out: ``[output_channels, n]`` for an audio processor (same rate as the host).
            missed: the host is behind: apply ``miss_policy`` instead of running the processor.
        """
        x = self._map_channels(block)
        if self._resampler is not None:
            x = self._resampler.process(x)
        if missed:
            return self._miss(x, out)
        events = self.adapter.push(x, out)
        if events:
            self._last_event = events[-1]
            self._last_end = self.adapter.samples_seen
        return events

    def _miss(self, x: np.ndarray, out: np.ndarray | None) -> list[Event]:
        t0, hops = self.adapter.miss(x, out, self.miss_policy)
        self.missed_hops += hops
        last = self._last_event
        if self.miss_policy != "hold" or last is None or not hops:
            return []
        hop = self.processor.hop_size
        # the missed hop ending at sample e describes last.t + (e - end of the last computed hop)
        return [Event(last.task, last.t + (t0 + (k + 1) * hop - self._last_end) / self.rate,
                      {**last.values, "held": True}) for k in range(hops)]

    def flush(self) -> list[Event]:
        """Push the resampler's held-back tail through (end of a file)."""
        if self._resampler is None:
            return []
        return self.adapter.push(self._resampler.flush())

    def _map_channels(self, block: np.ndarray) -> np.ndarray:
        if self._map == "pass":
            return block
        if self._map == "mean":
            n = block.shape[1]
            if n > self._mono.shape[1]:
                self._mono = np.zeros((1, n), np.float32)
            out = self._mono[:, :n]
            np.mean(block, axis=0, keepdims=True, out=out)
            return out
        return np.repeat(block, self.channels, axis=0)
