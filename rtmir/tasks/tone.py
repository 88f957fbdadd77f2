"""A sine tone generator (``--task tone``): no input, audio out — the simplest generator.

A calibration and test source, and the stand-in for the generators to come: it may be placed
``ahead`` (its own thread fills the output ahead of playback; the callback only copies) or
``inline``. ``frequency_hz`` and ``level_db`` change live (``/rtmir/ctl/<node>/frequency_hz``);
the phase is continuous across changes.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.ports import Description, Param, Port
from ..core.processor import Event, ProcessSpec, Processor


class ToneProcessor(Processor):
    """``out[c, i] = 10^(level_db/20) · sin(2π · f · i / rate)`` on every channel, hop 1.

    Args:
        frequency_hz: tone frequency.
        level_db: peak level, dBFS.
        channels: output channels.
    """

    task = "tone"
    result = None
    callback_safe = True
    hop_size = 1
    param_specs = (Param("frequency_hz", 440.0, 1.0, 20000.0, "Hz"), Param("level_db", -12.0, -120.0, 0.0, "dBFS"))

    def __init__(self, frequency_hz: float = 440.0, level_db: float = -12.0, channels: int = 1) -> None:
        self.output_channels = channels
        self.channels = None  # no input: fed the host's block only as a clock
        self._freq, self._gain = float(frequency_hz), 10 ** (level_db / 20)
        self._phase = 0.0
        self._ramp = np.zeros(0)

    def describe(self) -> Description:
        return Description(self.task, (), (Port("audio", "audio", self.output_channels),), self.param_specs,
                           0, placement=self.placement, callback_safe=True)

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate
        self._ramp = np.arange(max(spec.max_block, 1), dtype=np.float64)
        self._row = np.zeros(max(spec.max_block, 1), np.float64)
        self.reset()

    def reset(self) -> None:
        self._phase = 0.0

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        n = block.shape[1]
        step = 2 * math.pi * self._freq / self.rate
        row = self._row[:n]
        np.multiply(self._ramp[:n], step, out=row)
        np.add(row, self._phase, out=row)
        np.sin(row, out=row)
        np.multiply(row, self._gain, out=row)
        out[:] = row  # every channel
        self._phase = (self._phase + n * step) % (2 * math.pi)
        return []

    def set_param(self, name: str, value: float) -> None:
        if name == "frequency_hz":
            self._freq = float(value)
        elif name == "level_db":
            self._gain = 10 ** (float(value) / 20)
        else:
            raise KeyError(f"tone has no parameter {name!r} (frequency_hz, level_db)")

    def params(self) -> dict[str, float]:
        return {"frequency_hz": self._freq, "level_db": 20 * math.log10(self._gain)}
