"""What a processor says about itself before ``prepare``: ports, parameters, latency, placement.

The graph (``core/graph.py``) checks edges against these descriptions, the latency module
(``core/latency.py``) adds their latencies up, OSC control checks values against the parameter
ranges, and the display and OSC sinks format results by the declared result kind — nothing is
guessed from the field names of an event.

    Description(name="pitch", inputs=(Port("audio", "audio", width=1, rate=16000, hop=80),),
                outputs=(Port("pitch", "events", result="pitch"),),
                params=(Param("voicing_threshold", 0.5, 0.0, 1.0),), latency_samples=160, ...)

Port kinds:

    audio   float32 [width, samples] at ``rate`` Hz (None: the host's rate)
    tokens  int64   [width = codebooks, frames], one frame per ``hop`` samples of the node's rate
    frames  float32 [width, frames], one frame per ``hop``
    events  ``Event`` lists; ``result`` names their kind (pitch, tags, levels, raw)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Port kinds an edge can carry.
PORT_KINDS = ("audio", "tokens", "frames", "events")
#: Result kinds of an events port; each has its OSC messages, JSONL fields and display row.
RESULT_KINDS = ("pitch", "tags", "levels", "notes", "raw")
#: Where a node runs: on the worker thread (default), in the audio callback (``inline``:
#: callback-safe processors far cheaper than a block, ``core/placement.py``), or ahead of playback
#: in its own thread (generators; declared only, run on the worker for now).
PLACEMENTS = ("worker", "inline", "ahead")
#: What a late hop yields (see ``core/node.py``).
MISS_POLICIES = ("skip", "hold", "dry")


class DescriptionError(ValueError):
    """A processor describes itself inconsistently (unknown kind, duplicate port, bad range)."""


@dataclass(frozen=True)
class Port:
    """One input or output of a processor.

    Attributes:
        name: port name, unique among the processor's inputs (or outputs).
        kind: one of ``PORT_KINDS``.
        width: channels (audio), codebooks (tokens), values per frame (frames); None = any
            (an audio input that takes whatever it is given, or an events port).
        rate: sample rate (Hz) of the node's audio; None = the host's rate.
        hop: samples of the node's audio per step (tokens/frames: one frame per hop); None =
            known only after ``prepare`` (e.g. YIN's 10 ms hop at the rate it is given).
        labels: names along the width (tag names, stem channels), or None.
        result: events ports only: one of ``RESULT_KINDS``.
        required: inputs only: the graph refuses to build when nothing feeds it.
    """

    name: str
    kind: str
    width: int | None = None
    rate: int | None = None
    hop: int | None = None
    labels: tuple[str, ...] | None = None
    result: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.kind not in PORT_KINDS:
            raise DescriptionError(f"port {self.name!r}: unknown kind {self.kind!r} (use {', '.join(PORT_KINDS)})")
        if self.kind == "events" and self.result not in RESULT_KINDS:
            raise DescriptionError(f"events port {self.name!r}: result must be one of {', '.join(RESULT_KINDS)}")
        if self.width is not None and self.width < 1:
            raise DescriptionError(f"port {self.name!r}: width must be positive, got {self.width}")

    @property
    def is_data(self) -> bool:
        """True for ports that carry arrays (audio, tokens, frames), False for events."""
        return self.kind != "events"


@dataclass(frozen=True)
class Param:
    """One control parameter (``/rtmir/ctl/<node>/<name> value``).

    Attributes:
        name: parameter name (one OSC address part).
        default: value after construction.
        low, high: the accepted closed range.
        unit: what the value is ("probability", "dB", "Hz", "" for plain numbers).
    """

    name: str
    default: float
    low: float
    high: float
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise DescriptionError(f"param {self.name!r}: default {self.default} outside [{self.low}, {self.high}]")

    def check(self, value: float) -> float:
        """``value`` as a float if it is finite and in range.

        Raises:
            ValueError: not finite or outside ``[low, high]`` (one line, naming the range).
        """
        v = float(value)
        if not math.isfinite(v) or not self.low <= v <= self.high:
            raise ValueError(f"{self.name} must be in [{self.low:g}, {self.high:g}]{' ' + self.unit if self.unit else ''}, got {value!r}")
        return v


@dataclass(frozen=True)
class Description:
    """Everything a graph needs to know about a processor before it is prepared.

    Attributes:
        name: the processor family (the ``task``: "pitch", "yin", "gain", ...).
        inputs: input ports; the first data input is the one the node steps on.
        outputs: output ports (data and events).
        params: control parameters.
        latency_samples: algorithmic latency at the node's rate (None: known after prepare).
        miss_policy: the default of what a late hop yields (``MISS_POLICIES``).
        placement: ``PLACEMENTS``.
        callback_safe: ``process`` makes no model call, no allocation, takes no lock and does no
            I/O: it may run in the audio callback (the ``inline`` placement).
    """

    name: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    params: tuple[Param, ...] = ()
    latency_samples: int | None = 0
    miss_policy: str = "skip"
    placement: str = "worker"
    callback_safe: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for group, ports in (("input", self.inputs), ("output", self.outputs)):
            names = [p.name for p in ports]
            if len(set(names)) != len(names):
                raise DescriptionError(f"{self.name}: duplicate {group} port names {names}")
        if self.miss_policy not in MISS_POLICIES:
            raise DescriptionError(f"{self.name}: unknown miss policy {self.miss_policy!r}")
        if self.placement not in PLACEMENTS:
            raise DescriptionError(f"{self.name}: unknown placement {self.placement!r}")

    @property
    def result(self) -> str | None:
        """The result kind of its events port (``RESULT_KINDS``), None without one."""
        return next((p.result for p in self.outputs if p.kind == "events"), None)

    def input(self, name: str) -> Port:
        """The input port ``name``. Raises KeyError naming the ports there are."""
        return _find(self.inputs, name, self.name, "input")

    def output(self, name: str) -> Port:
        """The output port ``name``. Raises KeyError naming the ports there are."""
        return _find(self.outputs, name, self.name, "output")

    def param(self, name: str) -> Param:
        """The parameter ``name``. Raises KeyError naming the parameters there are."""
        for p in self.params:
            if p.name == name:
                return p
        have = ", ".join(p.name for p in self.params) or "none"
        raise KeyError(f"{self.name} has no parameter {name!r} (parameters: {have})")


def _find(ports: tuple[Port, ...], name: str, owner: str, group: str) -> Port:
    for p in ports:
        if p.name == name:
            return p
    have = ", ".join(p.name for p in ports) or "none"
    raise KeyError(f"{owner} has no {group} port {name!r} ({group}s: {have})")
