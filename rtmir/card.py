"""The model card: what an exported ONNX file promises about itself (DESIGN.md, contract 2).

The card is JSON stored in the ONNX ``metadata_props`` under the key ``rtmir.card``. The runtime
reads it to know the sample rate, channels, hop, data inputs, latency, outputs and state of a
model without knowing anything about the task; ``export/`` writes it after verification.

Example (abridged)::

    {"name": "pitch-tcn", "task": "pitch", "version": "1.0.0",
     "sample_rate": 16000, "channels": 1, "hop": 80, "latency_samples": 160,
     "inputs": [{"name": "audio", "kind": "audio", "shape": [1, 1, "samples"], "dtype": "float32",
                 "frame_rate": 16000.0, "labels": null}],
     "outputs": [{"name": "salience", "unit": "probability", "frame_rate": 200.0,
                  "shape": [1, 360, "frames"], "labels": null}],
     "state": [{"name": "tcn.0.cache", "shape": [1, 64, 2], "dtype": "float32"}],
     "training": {"command": "...", "data": "...", "seed": 0, "git_commit": "...", "date": "..."},
     "evaluation": {"raw_pitch_accuracy": 0.97}}

A card written before data inputs were listed (no ``inputs`` field, like pitch-tcn 1.3.0) means
one audio input ``[1, channels, "samples"]`` float32 at ``sample_rate``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

CARD_KEY = "rtmir.card"
"""Key of the card in the ONNX ``metadata_props``."""

INPUT_KINDS = ("audio", "tokens", "control")
"""Kinds of data input: audio samples, integer token frames, control values (no time axis)."""
TIME_AXES = ("frames", "samples")
"""Names the last entry of a shape may take for the time axis (its length varies per call)."""
DTYPES = ("float32", "int64")
"""Dtypes of data inputs and state."""
_INPUT_DTYPE = {"audio": ("float32",), "tokens": ("int64",), "control": ("float32", "int64")}


class CardError(ValueError):
    """A model card is missing, is not valid JSON, or breaks the schema."""


@dataclass(frozen=True)
class OutputSpec:
    """One model output.

    Attributes:
        name: ONNX output name (also the key in ``StreamingSession.process``'s result).
        unit: what the values are ("logit", "probability", "dBFS", "audio", "code", ...).
        frame_rate: output frames per second (``sample_rate / hop`` for one frame per hop).
        shape: ``[batch, ..., "frames"]``; the last axis is time ("frames" or "samples").
        labels: names along the non-time axis (e.g. instrument families), or None.
    """

    name: str
    unit: str
    frame_rate: float
    shape: list[Any] = field(default_factory=list)
    labels: list[str] | None = None


@dataclass(frozen=True)
class InputSpec:
    """One data input, fed before the state (contract 2), in ONNX input order.

    Attributes:
        name: ONNX input name (also the key in ``StreamingSession.step``'s argument).
        kind: "audio" (``[1, C, "samples"]`` float32 at ``sample_rate``), "tokens"
            (``[1, Q, "frames"]`` int64) or "control" (``[1, k]``, no time axis: one value set
            per call, held for the whole chunk).
        shape: ``[batch, ..., time]``; the last entry is "samples" or "frames" for audio and
            tokens, and there is no time entry for control values.
        dtype: "float32" or "int64".
        frame_rate: steps per second along the time axis (``sample_rate`` for audio,
            ``sample_rate / hop`` for one token frame per hop); None for control values.
        labels: names along the non-time axis (e.g. control parameter names), or None.
        vocab_size: tokens only: the values lie in ``0 .. vocab_size - 1`` (None: not declared).
    """

    name: str
    kind: str
    shape: list[Any]
    dtype: str = "float32"
    frame_rate: float | None = None
    labels: list[str] | None = None
    vocab_size: int | None = None

    @property
    def timed(self) -> bool:
        """True for inputs with a time axis (audio, tokens)."""
        return self.kind != "control"


def audio_input(sample_rate: int, channels: int, name: str = "audio") -> InputSpec:
    """The one audio input that a card without ``inputs`` declares."""
    return InputSpec(name, "audio", [1, channels, "samples"], "float32", float(sample_rate))


@dataclass(frozen=True)
class StateSpec:
    """One streaming state tensor, fed as ``state_in.<name>`` and returned as ``state_out.<name>``.

    Attributes:
        name: dotted name, e.g. ``tcn.3.cache`` or ``lstm.h``.
        shape: fixed shape (batch 1 included).
        dtype: numpy dtype name, "float32" or "int64".
    """

    name: str
    shape: list[int]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelCard:
    """Everything the runtime needs to stream an exported model, and where it came from.

    Attributes:
        name: short zoo name, e.g. "pitch-tcn".
        task: "pitch", "tags", "separation", "codec", "generation" or "test".
        version: semantic version of the model file.
        sample_rate: the model's time base in Hz: the rate of its audio input (or, for a model
            without one, such as a token decoder, of its audio output).
        channels: channels of its (first) audio input, or of its audio output for a model
            without one.
        hop: samples per step at ``sample_rate``; every call is a whole number of steps.
        latency_samples: algorithmic latency at ``sample_rate``: how many samples after the
            instant an output frame describes the model needs before it can emit that frame.
        outputs: one entry per model output, in ONNX output order.
        state: one entry per state tensor, in ONNX input order after the data inputs.
        training: how the file was made (command, data recipe, seed, git commit, date).
        evaluation: figures measured on held-out data (free-form, numbers only).
        description: one paragraph for ``rtmir models``.
        inputs: the data inputs in ONNX order; empty (or absent in the JSON) means one audio
            input ``[1, channels, "samples"]`` float32 at ``sample_rate`` (filled in).
    """

    name: str
    task: str
    version: str
    sample_rate: int
    channels: int
    hop: int
    latency_samples: int
    outputs: list[OutputSpec]
    state: list[StateSpec]
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    inputs: list[InputSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.inputs:  # a card from before inputs were listed: one audio input
            object.__setattr__(self, "inputs", [audio_input(self.sample_rate, self.channels)])

    def per_hop(self, spec: InputSpec | OutputSpec) -> int:
        """Values of ``spec`` along time per model step (``hop`` samples): ``hop`` for audio at
        ``sample_rate``, 1 for one frame per hop; 0 when its shape has no time axis.

        Raises:
            CardError: the frame rate gives a fractional (or non-positive) count per step.
        """
        timed = spec.timed if isinstance(spec, InputSpec) else bool(spec.shape) and spec.shape[-1] in TIME_AXES
        if not timed:
            return 0
        rate = spec.frame_rate or 0.0
        per_step = rate * self.hop / self.sample_rate
        if per_step < 1 or abs(per_step - round(per_step)) > 1e-9:
            raise CardError(f"{spec.name!r}: frame_rate {rate:g} Hz is not a whole number (>= 1) of "
                            f"values per hop ({self.hop} samples at {self.sample_rate} Hz)")
        return int(round(per_step))

    def to_json(self) -> str:
        """Serialise to the JSON stored under ``rtmir.card``."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelCard":
        """Parse and validate a card.

        Raises:
            CardError: not JSON, a missing or unknown field, or an impossible value.
        """
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"model card is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise CardError("model card must be a JSON object")
        try:
            outputs = [OutputSpec(**o) for o in raw.pop("outputs")]
            state = [StateSpec(**s) for s in raw.pop("state")]
            inputs = [InputSpec(**i) for i in raw.pop("inputs", [])]
            card = cls(outputs=outputs, state=state, inputs=inputs, **raw)
        except (KeyError, TypeError) as exc:
            raise CardError(f"model card does not follow the schema: {exc}") from exc
        card.validate()
        return card

    def validate(self) -> None:
        """Check values that the runtime relies on.

        Raises:
            CardError: a non-positive rate/channels/hop, negative latency, no outputs, a name
                used twice, or an input of unknown kind/dtype or with an impossible shape/rate.
        """
        if self.sample_rate <= 0 or self.channels <= 0 or self.hop <= 0:
            raise CardError(
                f"model card has sample_rate={self.sample_rate}, channels={self.channels}, "
                f"hop={self.hop}: all must be positive"
            )
        if self.latency_samples < 0:
            raise CardError(f"model card has negative latency_samples={self.latency_samples}")
        if not self.outputs:
            raise CardError("model card lists no outputs")
        for s in self.state:
            if s.dtype not in DTYPES:
                raise CardError(f"state {s.name!r} has unsupported dtype {s.dtype!r}")
        for what, names in (("input", [i.name for i in self.inputs]), ("output", [o.name for o in self.outputs]),
                            ("state", [s.name for s in self.state])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise CardError(f"model card names {what}s {twice} more than once")
        both = sorted({i.name for i in self.inputs} & {o.name for o in self.outputs})
        if both:
            raise CardError(f"model card uses {both} as both input and output names")
        for spec in self.inputs:
            self._validate_input(spec)
        if not any(i.timed for i in self.inputs):
            raise CardError("model card lists no audio or tokens input: a call needs a time axis")
        audio = [i for i in self.inputs if i.kind == "audio"]
        if audio and audio[0].shape[1] != self.channels:
            raise CardError(f"audio input {audio[0].name!r} has {audio[0].shape[1]} channels, the card {self.channels}")

    def _validate_input(self, spec: InputSpec) -> None:
        if spec.kind not in INPUT_KINDS:
            raise CardError(f"input {spec.name!r} has unknown kind {spec.kind!r}; known: {list(INPUT_KINDS)}")
        if spec.vocab_size is not None and (spec.kind != "tokens" or spec.vocab_size < 1):
            raise CardError(f"input {spec.name!r}: vocab_size is for tokens inputs and must be positive")
        if spec.dtype not in _INPUT_DTYPE[spec.kind]:
            raise CardError(f"{spec.kind} input {spec.name!r} has dtype {spec.dtype!r}; "
                            f"it must be {' or '.join(_INPUT_DTYPE[spec.kind])}")
        shape = list(spec.shape)
        fixed = shape[:-1] if spec.timed else shape
        if (len(shape) < 2 or shape[0] != 1 or not all(isinstance(d, int) and d > 0 for d in fixed)
                or spec.timed != (shape[-1] in TIME_AXES)):
            axis = 'a last "frames"/"samples" time axis' if spec.timed else "no time axis"
            raise CardError(f"{spec.kind} input {spec.name!r} has shape {shape}: it must be [1, positive ints..] "
                            f"with {axis}")
        if spec.timed:
            self.per_hop(spec)
        if spec.kind == "audio" and spec.frame_rate != self.sample_rate:
            raise CardError(f"audio input {spec.name!r} is at {spec.frame_rate} Hz, not the card's sample_rate "
                            f"{self.sample_rate}")
