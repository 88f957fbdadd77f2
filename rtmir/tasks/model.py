"""ModelProcessor: any exported model as a processor, emitting its raw outputs.

This is the task-agnostic processor (``--task model``): one ``StreamingSession``, no decoder.
Each output frame becomes one event whose ``values`` hold that frame's slice of every output.
Task processors (pitch, tags, ...) wrap a session the same way and add a decoder.
"""
from __future__ import annotations

import numpy as np

from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession


class ModelProcessor(Processor):
    """Stream an exported model; one event per output frame with every output's values.

    Args:
        session: an opened ``StreamingSession``.

    Event ``values``: ``{output name: list of floats}`` — the output's frame (batch and time axes
    removed), for outputs at one frame per hop. The first output whose unit is "audio" at the
    model's sample rate becomes the processor's audio output (``output_channels``); other
    outputs are in ``last_outputs`` only.
    """

    def __init__(self, session: StreamingSession) -> None:
        self.session = session
        card = session.card
        self.task = card.task
        self.sample_rate = card.sample_rate
        self.channels = card.channels
        self.hop_size = card.hop
        self.latency_samples = card.latency_samples
        self.last_outputs: dict[str, np.ndarray] = {}
        self._framed = [o.name for o in card.outputs
                        if o.unit != "audio" and abs(o.frame_rate * card.hop - card.sample_rate) < 1e-6]
        audio = [o for o in card.outputs if o.unit == "audio" and o.frame_rate == card.sample_rate]
        self._audio_name = audio[0].name if audio else None
        self.output_channels = card.channels if audio else 0

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or spec.channels != self.channels:
            raise ValueError(
                f"model {self.session.card.name} needs {self.sample_rate} Hz × {self.channels} ch, "
                f"got {spec.sample_rate} Hz × {spec.channels} ch"
            )
        self.reset()

    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        outs = self.session.process(block)
        self.last_outputs = outs
        if out is not None and self._audio_name is not None:
            out[:] = outs[self._audio_name][0]
        frames = block.shape[1] // self.hop_size
        events = []
        for k in range(frames):
            end = t0 + (k + 1) * self.hop_size
            values = {name: outs[name][0, ..., k].ravel().tolist() for name in self._framed}
            events.append(Event(self.task, (end - self.latency_samples) / self.sample_rate, values))
        return events

    def reset(self) -> None:
        self.session.reset()
