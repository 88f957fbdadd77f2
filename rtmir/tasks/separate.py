"""Source separation processor (``--task separate``): a streamed mask separator, stems as audio ports.

The model (a ``separator`` family file: ``audio [1, N] -> drums, bass, other, melody``, each
``[1, N]``, ``latency_samples`` late) is streamed by a ``StreamingSession``. Each stem is an audio
port of the node (routed to output channels or to ``<stem>.wav`` files; the engine resamples to
the host's rate and compensates latency); the mix is downmixed to mono first.

Per stem three parameters, live over OSC (``/rtmir/ctl/separate/melody_gain f 0``):
``<stem>_gain`` (linear, 0…4), ``<stem>_mute`` and ``<stem>_solo`` (0/1; while any stem is
soloed only soloed stems sound). A change of the resulting gain is a linear ramp of
``RAMP_MS`` from the gain being played, so it never clicks.

The model is called one hop at a time, whatever the host's block: ONNX Runtime's results for a
call of k hops differ from k calls of one hop by float rounding, which a trained separator
amplifies (sep-tcn 0.1.0: up to 3.5e-4 between host block sequences with calls of up to 29 hops,
against the 1e-4 that streaming = offline allows). With one hop per call every block size gives
bit-identical stems (0.03 CPU s per s in all, measured).

Events (task "separate", result "levels", ``/rtmir/sep/<stem>``) carry per hop
``{"levels_dbfs": {stem: RMS dBFS of the stem before its gain}}``, stamped with the instant at the
end of the input the hop's stem audio describes (the level "as of" that instant): ``(t0 + (k + 1) *
hop - latency_samples) / sample_rate`` (hops describing audio before the stream began are not sent).
"""
from __future__ import annotations

import numpy as np

from ..core.ports import Description, Param, Port
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession

RAMP_MS = 10.0
"""Duration of every gain change (ms)."""
MAX_GAIN = 4.0
LEVEL_FLOOR = 1e-12
"""Added to a hop's mean square before the log (-120 dBFS for silence)."""


class SeparateProcessor(Processor):
    """A separator model streamed by a ``StreamingSession`` with per-stem gain, mute and solo.

    Args:
        session: an opened session of a model whose card has task "separate" and one audio
            output per stem.

    Raises:
        ValueError: the card does not describe a separator.
    """

    task = "separate"
    channels = 1
    result = "levels"

    def __init__(self, session: StreamingSession) -> None:
        card = session.card
        stems = tuple(o.name for o in card.outputs if o.unit == "audio")
        if card.task != "separate" or len(stems) < 2 or card.channels != 1:
            raise ValueError(f"model {card.name} is not a mono separator (task {card.task!r}, "
                             f"audio outputs {list(stems)})")
        self.session = session
        self.stems = stems
        self.sample_rate, self.hop_size, self.latency_samples = card.sample_rate, card.hop, card.latency_samples
        self.output_channels = 1
        self.param_specs = tuple(p for s in stems for p in (Param(f"{s}_gain", 1.0, 0.0, MAX_GAIN),
                                                            Param(f"{s}_mute", 0.0, 0.0, 1.0),
                                                            Param(f"{s}_solo", 0.0, 0.0, 1.0)))
        self._values = {p.name: p.default for p in self.param_specs}
        n = len(stems)
        self._target = np.ones(n)  # the gain each stem is heading for
        self._gain = np.ones(n)  # the gain being played
        self._left = np.zeros(n, np.int64)  # samples left in each ramp
        self._ramp_samples = max(1, int(round(RAMP_MS * self.sample_rate / 1000)))
        self._steps = np.zeros(0)
        self._row = np.zeros(0, np.float32)
        self._levels = np.zeros(0)
        self._stems = np.zeros((len(stems), 0), np.float32)

    def describe(self) -> Description:
        sr, hop = self.sample_rate, self.hop_size
        outs = tuple(Port(s, "audio", 1, sr, hop) for s in self.stems)
        return Description(self.task, (Port("audio", "audio", 1, sr, hop),),
                           outs + (Port("events", "events", result=self.result),),
                           self.param_specs, self.latency_samples)

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != 1:
            raise ValueError(f"separator needs {self.sample_rate} Hz mono, got {spec.sample_rate} Hz × {spec.channels} ch")
        self.session.prepare(1)  # one hop per call (module docstring)
        n = max(spec.max_block, self.hop_size)
        self._stems = np.zeros((len(self.stems), n), np.float32)
        self._steps = np.arange(1, n + 1, dtype=np.float64)
        self._row = np.zeros(n, np.float32)
        self._levels = np.zeros(n // self.hop_size + 1)
        self.session.process(np.zeros((1, self.hop_size), np.float32))  # first-run allocations here
        self.reset()

    def reset(self) -> None:
        """Zero model state; gains jump to their targets (nothing is playing to ramp from)."""
        self.session.reset()
        self._gain[:] = self._target
        self._left[:] = 0

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        n, hop = block.shape[1], self.hop_size
        if len(self._row) < n:  # a longer call than prepared for: allocate once, on the worker
            self._steps = np.arange(1, n + 1, dtype=np.float64)
            self._row = np.zeros(n, np.float32)
            self._levels = np.zeros(n // hop + 1)
            self._stems = np.zeros((len(self.stems), n), np.float32)
        hops = n // hop
        for k in range(hops):
            outs = self.session.process(block[:, k * hop:(k + 1) * hop])
            for i, stem in enumerate(self.stems):
                self._stems[i, k * hop:(k + 1) * hop] = outs[stem][0, 0]
        levels = {}
        for i, stem in enumerate(self.stems):
            y = self._stems[i, :n]
            self._meter(y, hops, hop)
            levels[stem] = self._levels[:hops].tolist()
            if isinstance(out, dict) and stem in out:
                self._apply_gain(i, y, out[stem][0])
        events = []
        for k in range(hops):
            start = t0 + k * hop - self.latency_samples
            if start < 0:
                continue
            events.append(Event(self.task, (start + hop) / self.sample_rate,
                                {"levels_dbfs": {s: levels[s][k] for s in self.stems}}))
        return events

    def _meter(self, y: np.ndarray, hops: int, hop: int) -> None:
        """RMS dBFS of each hop of ``y`` into ``_levels[:hops]``."""
        seg = y[:hops * hop].reshape(hops, hop)
        lv = self._levels[:hops]
        np.einsum("ij,ij->i", seg, seg, out=lv)
        lv /= hop
        lv += LEVEL_FLOOR
        np.log10(lv, out=lv)
        lv *= 10.0

    def _apply_gain(self, i: int, y: np.ndarray, dst: np.ndarray) -> None:
        """``dst = y * gain``, the gain ramping linearly towards its target."""
        n = len(y)
        left, target, gain = int(self._left[i]), self._target[i], self._gain[i]
        if left == 0:
            np.multiply(y, np.float32(target), out=dst)
            return
        k = min(n, left)
        row = self._row[:n]
        np.multiply(self._steps[:k], (target - gain) / left, out=row[:k], casting="unsafe")
        row[:k] += np.float32(gain)
        row[k:] = target
        np.multiply(y, row, out=dst)
        self._gain[i] = gain + (target - gain) * k / left
        self._left[i] = left - k

    def set_param(self, name: str, value: float) -> None:
        if name not in self._values:
            have = ", ".join(self._values)
            raise KeyError(f"separate has no parameter {name!r} ({have})")
        self._values[name] = float(value)
        solo = any(self._values[f"{s}_solo"] >= 0.5 for s in self.stems)
        for i, s in enumerate(self.stems):
            v = self._values
            audible = v[f"{s}_mute"] < 0.5 and (not solo or v[f"{s}_solo"] >= 0.5)
            target = v[f"{s}_gain"] if audible else 0.0
            if target != self._target[i]:
                self._target[i] = target
                self._left[i] = self._ramp_samples

    def params(self) -> dict[str, float]:
        return dict(self._values)
