"""Lane: what stands between the host's audio and one processor.

    host block [C_host, n] @ host rate
        │  channel map   (same → pass, many → mean to mono, mono → copy to each)
        │  resampler     (soxr stream; only if the processor needs another rate)
        ▼  BlockAdapter  (whole hops)
    processor.process(chunk [C_proc, k*hop], t0)

soxr's streaming output is time-aligned with its input (an impulse at input time s comes out at
output time s), so event times are exact; the resampler holds some samples back, which is
reported as part of the lane's buffering latency (``resampler_delay_samples``, measured at
``prepare``).
"""
from __future__ import annotations

import numpy as np

from .adapter import BlockAdapter
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


class Lane:
    """Host audio → one processor, with channel mapping, resampling and hop buffering.

    Args:
        processor: the processor this lane feeds.
        resample_quality: soxr quality ("QQ", "LQ", "MQ", "HQ", "VHQ") when rates differ.
    """

    def __init__(self, processor: Processor, resample_quality: str = "HQ") -> None:
        self.processor = processor
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
        """
        p = self.processor
        self.host_rate = host_rate
        self.rate = p.sample_rate or host_rate
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
            import soxr

            self._resampler = soxr.ResampleStream(
                self.host_rate, self.rate, self.channels, dtype="float32", quality=self.resample_quality
            )
            self.resampler_delay_samples = _measure_resampler_hold(
                self.host_rate, self.rate, self.channels, self.resample_quality
            )

    def reset(self) -> None:
        """Forget all buffered audio and reset the processor."""
        if self._resampler is not None:
            self._resampler.clear()
        self.adapter.reset()

    def push(self, block: np.ndarray) -> list[Event]:
        """Feed one host block ``[C_host, n]``; returns the events of the hops it completed."""
        x = self._map_channels(block)
        if self._resampler is not None:
            # soxr wants [n, C]; the transpose copies (worker thread, not the audio callback)
            y = self._resampler.resample_chunk(np.ascontiguousarray(x.T))
            x = y.reshape(-1, self.channels).T
        return self.adapter.push(x)

    def flush(self) -> list[Event]:
        """Push the resampler's held-back tail through (end of a file)."""
        if self._resampler is None:
            return []
        y = self._resampler.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
        return self.adapter.push(y.reshape(-1, self.channels).T)

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


def _measure_resampler_hold(rate_in: int, rate_out: int, channels: int, quality: str) -> int:
    """Input samples soxr holds back before its first output, at ``rate_in`` (one-off, at prepare)."""
    import soxr

    probe = soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality=quality)
    step = 32
    zeros = np.zeros((step, channels), np.float32)
    for fed in range(step, 10 * rate_in, step):
        if len(probe.resample_chunk(zeros)):
            return fed
    return 0
