"""The plugin-style unit of rtmir: ``Processor`` and the events it emits (DESIGN.md, contract 3).

A processor is prepared once, then fed blocks whose length is a positive multiple of its
``hop_size`` (the ``BlockAdapter`` guarantees that), at its own ``sample_rate`` and ``channels``
(hosts resample and downmix). It returns events stamped with the stream time of the audio they
describe, and, if ``output_channels > 0``, writes audio into ``out``.

Time convention. For a chunk whose first sample has index ``t0`` (samples since the stream
started, at the processor's rate) and length ``N``, a frame completed at sample ``e`` describes
the instant ``(e - latency_samples) / sample_rate`` seconds. ``latency_samples`` is therefore
the algorithmic latency: how far past the described instant the processor must look before it
can speak (half the frame for a centred frame, plus any declared lookahead).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ports import Description, Param, Port


@dataclass(frozen=True)
class ProcessSpec:
    """What a host promises a processor before streaming.

    Attributes:
        sample_rate: Hz of the blocks ``process`` will receive.
        max_block: the largest ``N`` (samples) ``process`` will receive.
        channels: channels of the blocks ``process`` will receive.
    """

    sample_rate: int
    max_block: int
    channels: int


@dataclass(slots=True)
class Event:
    """One result, time-stamped with the audio it describes.

    Attributes:
        task: which processor family produced it ("pitch", "yin", "tags", ...).
        t: seconds of stream time (samples since start / sample rate) of the described audio.
        values: task fields, e.g. ``{"f0_hz": 440.0, "voiced": True, "confidence": 0.93}``.
        node: the graph node that produced it (set by the engine; "" outside a graph).
    """

    task: str
    t: float
    values: dict[str, Any] = field(default_factory=dict)
    node: str = ""

    def as_json(self) -> dict[str, Any]:
        """The JSONL form: ``{"task": ..., "node": ..., "t": ..., **values}``."""
        out: dict[str, Any] = {"task": self.task, "node": self.node or self.task, "t": round(self.t, 6)}
        out.update(self.values)
        return out


class Processor(ABC):
    """Plugin-style streaming unit.

    Subclasses set, before ``prepare`` returns:
        task: event task name.
        sample_rate: the rate it needs (Hz), or None to accept the host's.
        channels: the channels it needs (1 = mono), or None to accept the host's.
        hop_size: ``process`` receives positive multiples of this many samples.
        latency_samples: algorithmic latency at its rate (see module docstring).
        output_channels: > 0 if it produces audio (written into ``out``).
        result: the kind of its events (``ports.RESULT_KINDS``: "pitch", "tags", "levels", "notes", "raw"),
            or None for a processor that never emits events (audio only).
        param_specs: its control parameters (``ports.Param``), with ranges.
        placement: "worker" (default), "inline" or "ahead" (``ports.PLACEMENTS``).
        callback_safe: True only if ``process`` makes no model call, allocation, lock or I/O
            (then it may be placed inline, in the audio callback).

    ``describe()`` turns these into a ``ports.Description`` before ``prepare``; processors with
    other ports (tokens in or out, several audio outputs) override it. Such processors get
    ``out`` as a ``{port name: array}`` dict instead of one array (see ``process``).

    Real-time contract: ``prepare`` allocates and warms up everything; ``process`` allocates
    nothing it can avoid, never blocks, never logs; ``reset`` returns to the freshly prepared state.
    """

    task: str = "processor"
    sample_rate: int | None = None
    channels: int | None = 1
    hop_size: int = 1
    latency_samples: int = 0
    output_channels: int = 0
    result: str | None = "raw"
    param_specs: tuple[Param, ...] = ()
    placement: str = "worker"
    callback_safe: bool = False

    def describe(self) -> Description:
        """Ports, parameters, latency and placement, known without ``prepare``.

        The default: one audio input ``audio`` (``channels`` wide, at ``sample_rate``, stepping
        by ``hop_size``), an audio output ``audio`` when ``output_channels``, and an events
        output ``events`` of kind ``result`` (none when ``result`` is None).
        """
        ins = (Port("audio", "audio", self.channels, self.sample_rate, self.hop_size),)
        outs: tuple[Port, ...] = ()
        if self.output_channels:
            outs += (Port("audio", "audio", self.output_channels, self.sample_rate, self.hop_size),)
        if self.result is not None:
            outs += (Port("events", "events", result=self.result),)
        return Description(self.task, ins, outs, self.param_specs, self.latency_samples, placement=self.placement,
                           callback_safe=self.callback_safe)

    @abstractmethod
    def prepare(self, spec: ProcessSpec) -> None:
        """Allocate for ``spec`` and warm up (JIT, first inference). Call before ``process``."""

    @abstractmethod
    def process(self, block: np.ndarray, t0: int, out: np.ndarray | None = None) -> list[Event]:
        """Process one chunk.

        Args:
            block: ``[channels, N]`` float32, ``N`` a positive multiple of ``hop_size``.
            t0: index of ``block[:, 0]`` in samples since the stream started (own rate).
            out: ``[output_channels, N]`` to write audio into, or None for event processors;
                for processors whose ``describe()`` has data outputs other than one ``audio``
                port, a ``{port: array}`` dict (audio ``[width, N]``, tokens/frames
                ``[width, N // hop]``) to fill.

        Returns:
            Events for this chunk, in time order (may be empty).
        """

    @abstractmethod
    def reset(self) -> None:
        """Forget the past: the next ``process`` behaves as right after ``prepare``."""

    def set_param(self, name: str, value: float) -> None:
        """Change a control parameter (from ``/rtmir/ctl/<node>/<name>``), already range-checked
        by the engine against ``param_specs``.

        Raises:
            KeyError: the processor has no such parameter.
        """
        raise KeyError(f"{self.task} has no parameter {name!r}")

    def params(self) -> dict[str, float]:
        """Current control parameters (name → value)."""
        return {}

    def measured(self) -> dict[str, float]:
        """Figures the processor measures of itself while it runs (name → value, e.g. a
        generator's tokens per second of compute): wall-clock readings, so never results (results
        depend on the input and parameters only). Read by the live host's status record about once
        a second, from the thread that runs the processor. Default: none."""
        return {}
