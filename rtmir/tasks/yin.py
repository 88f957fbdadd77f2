"""YIN pitch processor (``--task yin``): the causal DSP baseline for every neural pitch model.

Frames are causal: the frame completed at sample ``e`` spans ``[e - L, e)`` with
``L = window + tau_max`` and describes its centre, so the declared algorithmic latency is
``L - L // 2`` samples (half the frame). With the defaults (55…2000 Hz, hop 10 ms) that is
≈ 18 ms at any sample rate. Before ``L`` samples have arrived the frame holds zeros, exactly as
an offline pass over the zero-padded signal would (streaming = offline, by construction).

Events (task "yin"): ``f0_hz`` (the estimate even when unvoiced; 0 for silence), ``voiced``,
``confidence`` (1 − aperiodicity, 0 for silence).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.ports import Param
from ..core.processor import Event, ProcessSpec, Processor
from .yin_kernel import yin_frames


@dataclass(frozen=True)
class YinConfig:
    """YIN settings.

    Attributes:
        fmin_hz: lowest f0 searched (sets tau_max and the window).
        fmax_hz: highest f0 searched (sets tau_min).
        hop_ms: time between estimates (≤ 10 ms).
        threshold: YIN absolute threshold on the normalised difference (0.05…0.3).
        silence_db: frames whose RMS is below this (dBFS) are unvoiced with confidence 0.
        sample_rate: run at this rate (the host resamples), or None to run at the host's rate.
    """

    fmin_hz: float = 55.0
    fmax_hz: float = 2000.0
    hop_ms: float = 10.0
    threshold: float = 0.15
    silence_db: float = -60.0
    sample_rate: int | None = None


class YinProcessor(Processor):
    """Causal YIN on mono audio, one estimate per hop.

    Args:
        config: ``YinConfig``; ``threshold`` and ``silence_db`` can change live (``set_param``).
    """

    task = "yin"
    channels = 1
    result = "pitch"
    param_specs = (Param("threshold", 0.15, 0.01, 1.0), Param("silence_db", -60.0, -150.0, 0.0, "dBFS"))

    def __init__(self, config: YinConfig = YinConfig()) -> None:
        if not 0 < config.fmin_hz < config.fmax_hz:
            raise ValueError(f"need 0 < fmin_hz < fmax_hz, got {config.fmin_hz}, {config.fmax_hz}")
        if not 0 < config.hop_ms <= 10.0:
            raise ValueError(f"hop_ms must be in (0, 10], got {config.hop_ms}")
        self.config = config
        self.sample_rate = config.sample_rate
        self._threshold = config.threshold
        self._silence_rms = 10 ** (config.silence_db / 20)
        self._prepared_rate = 0

    def prepare(self, spec: ProcessSpec) -> None:
        cfg = self.config
        sr = spec.sample_rate
        self._prepared_rate = sr
        self.hop_size = max(1, round(sr * cfg.hop_ms / 1000))
        self.tau_max = int(np.ceil(sr / cfg.fmin_hz))
        self.tau_min = max(2, int(sr / cfg.fmax_hz))
        # the integration window spans the longest period searched, and at least a hop: a frame
        # shorter than a hop (fmin above ~100 Hz at 10 ms hops) would leave samples unread
        self.window = max(self.tau_max, self.hop_size)
        self.frame_samples = self.window + self.tau_max
        self.latency_samples = self.frame_samples - self.frame_samples // 2
        max_chunk = max(spec.max_block, self.hop_size)
        max_frames = max_chunk // self.hop_size
        self._past = self.frame_samples - self.hop_size
        self._buf = np.zeros(self._past + max_chunk, np.float32)
        self._d = np.zeros(self.tau_max + 1)
        self._dprime = np.zeros(self.tau_max + 1)
        self._period = np.zeros(max_frames)
        self._aper = np.zeros(max_frames)
        self._rms = np.zeros(max_frames)
        self.reset()
        # warm up the JIT here, never in process()
        yin_frames(self._buf, 1, self.hop_size, self.window, self.tau_min, self.tau_max, self._threshold,
                   self._d, self._dprime, self._period, self._aper, self._rms)

    def reset(self) -> None:
        if self._prepared_rate:
            self._buf.fill(0)

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        n = block.shape[1]
        frames = n // self.hop_size
        past = self._past
        self._buf[past:past + n] = block[0]
        yin_frames(self._buf, frames, self.hop_size, self.window, self.tau_min, self.tau_max, self._threshold,
                   self._d, self._dprime, self._period, self._aper, self._rms)
        self._buf[:past] = self._buf[n:n + past]
        return self._events(frames, t0)

    def _events(self, frames: int, t0: int) -> list[Event]:
        sr = self._prepared_rate
        events = []
        for i in range(frames):
            centre = t0 + (i + 1) * self.hop_size - self.latency_samples
            if centre < 0:
                continue
            silent = self._rms[i] < self._silence_rms
            aper = float(self._aper[i])
            voiced = (not silent) and aper < self._threshold
            f0 = 0.0 if silent else sr / float(self._period[i])
            conf = 0.0 if silent else 1.0 - aper
            events.append(Event(self.task, centre / sr, {"f0_hz": f0, "voiced": voiced, "confidence": conf}))
        return events

    def set_param(self, name: str, value: float) -> None:
        if name == "threshold":
            self._threshold = float(value)
        elif name == "silence_db":
            self._silence_rms = 10 ** (float(value) / 20)
        else:
            raise KeyError(f"yin has no parameter {name!r} (threshold, silence_db)")

    def params(self) -> dict[str, float]:
        return {"threshold": self._threshold, "silence_db": 20 * float(np.log10(self._silence_rms))}
