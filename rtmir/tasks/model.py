"""ModelProcessor: any exported model as a processor, emitting its raw outputs.

This is the task-agnostic processor (``--task model``): one ``StreamingSession``, no decoder.
Each output frame becomes one event whose ``values`` hold that frame's slice of every output.
Task processors (pitch, tags, ...) wrap a session the same way and add a decoder.
"""
from __future__ import annotations

import numpy as np

from ..core.ports import Description, Port
from ..core.processor import Event, ProcessSpec, Processor
from ..session import StreamingSession


#: Most chunk sizes (in model steps) a session binds in ``prepare``; longer calls bind on first
#: use (an allocation, on the worker). Each size costs ~0.2 ms to bind.
MAX_PREPARED_HOPS = 256


def prepare_session(session: StreamingSession, max_block: int) -> None:
    """Bind ``session`` for every chunk a node may pass it (``max(max_block, hop)`` samples)."""
    session.prepare(min(MAX_PREPARED_HOPS, max(1, max_block // session.hop)))


class ModelProcessor(Processor):
    """Stream an exported model; its audio and token outputs as ports, other frames as events.

    Args:
        session: an opened ``StreamingSession``.

    Ports come from the card: the first timed input (audio or tokens) is the node's input
    (control inputs are held at zero); every output of unit "audio" at the model's rate is an
    audio port, every output of unit "code" a tokens port. Event ``values``: ``{output name:
    list of floats}`` per output frame (batch and time axes removed) for every non-audio output
    at one frame per hop (codes included: ``--task model`` shows a model's raw outputs). ``last_outputs`` holds the last call's outputs: read-only views, valid
    until the next call.
    """

    result = "raw"

    def __init__(self, session: StreamingSession) -> None:
        self.session = session
        card = session.card
        self.task = card.task
        self.sample_rate = card.sample_rate
        self.channels = card.channels
        self.hop_size = card.hop
        self.latency_samples = card.latency_samples
        self.last_outputs = {}
        timed = [i for i in card.inputs if i.timed]
        self._input = timed[0]
        self._held = {i.name: np.zeros(i.shape[1:], np.dtype(i.dtype)) for i in card.inputs if not i.timed}
        self._audio = [o for o in card.outputs if o.unit == "audio" and o.frame_rate == card.sample_rate]
        self._tokens = [o for o in card.outputs if o.unit == "code"]
        self._framed = [o.name for o in card.outputs if o.unit != "audio"
                        and abs(o.frame_rate * card.hop - card.sample_rate) < 1e-6]
        self.output_channels = _width(self._audio[0]) if self._audio else 0

    def describe(self) -> Description:
        """The card's timed input and its audio/token outputs as ports (class docstring)."""
        sr, hop = self.sample_rate, self.hop_size
        i = self._input
        ins = (Port(i.name, i.kind, _width(i), sr, hop),)
        outs = tuple(Port(o.name, "audio", _width(o), sr, hop) for o in self._audio)
        outs += tuple(Port(o.name, "tokens", _width(o), sr, hop) for o in self._tokens)
        if self._framed:
            outs += (Port("events", "events", result="raw"),)
        return Description(self.task, ins, outs, latency_samples=self.latency_samples)

    def prepare(self, spec: ProcessSpec) -> None:
        if spec.sample_rate != self.sample_rate or (self._input.kind == "audio" and spec.channels != self.channels):
            raise ValueError(
                f"model {self.session.card.name} needs {self.sample_rate} Hz × {self.channels} ch, "
                f"got {spec.sample_rate} Hz × {spec.channels} ch"
            )
        prepare_session(self.session, spec.max_block)
        self.reset()

    def process(self, block: np.ndarray, t0: int, out=None) -> list[Event]:
        feeds = {self._input.name: block, **self._held}
        outs = self.session.step(feeds)
        self.last_outputs = outs
        if isinstance(out, dict):
            for name, arr in out.items():
                arr[:] = outs[name][0]
        elif out is not None:
            out[:] = outs[self._audio[0].name][0]
        if not self._framed:
            return []
        frames = outs[self._framed[0]].shape[-1]
        events = []
        for k in range(frames):
            end = t0 + (k + 1) * self.hop_size
            if end < self.latency_samples:  # the frame describes audio before the stream began
                continue
            values = {name: outs[name][0, ..., k].ravel().tolist() for name in self._framed}
            events.append(Event(self.task, (end - self.latency_samples) / self.sample_rate, values))
        return events

    def reset(self) -> None:
        self.session.reset()


def probabilities_into(logits: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``sigmoid(logits)`` written into ``out`` (same shape; no allocation) and returned; a
    non-finite logit counts as 0 (probability 0.5), so it never sticks in a decoder's state."""
    np.negative(logits, out=out)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _width(spec) -> int:
    """Channels / codebooks of a ``[1, width, time]`` input or output spec (1 if not given)."""
    shape = spec.shape
    return int(shape[1]) if len(shape) >= 3 and isinstance(shape[1], int) else 1
