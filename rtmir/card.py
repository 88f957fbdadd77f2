"""The model card: what an exported ONNX file promises about itself (DESIGN.md, contract 2).

The card is JSON stored in the ONNX ``metadata_props`` under the key ``rtmir.card``. The runtime
reads it to know the sample rate, channels, hop, latency, outputs and state of a model without
knowing anything about the task; ``export/`` writes it after verification.

Example (abridged)::

    {"name": "pitch-tcn", "task": "pitch", "version": "1.0.0",
     "sample_rate": 16000, "channels": 1, "hop": 80, "latency_samples": 160,
     "outputs": [{"name": "salience", "unit": "probability", "frame_rate": 200.0,
                  "shape": [1, 360, "frames"], "labels": null}],
     "state": [{"name": "tcn.0.cache", "shape": [1, 64, 2], "dtype": "float32"}],
     "training": {"command": "...", "data": "...", "seed": 0, "git_commit": "...", "date": "..."},
     "evaluation": {"raw_pitch_accuracy": 0.97}}
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

CARD_KEY = "rtmir.card"
"""Key of the card in the ONNX ``metadata_props``."""


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
        sample_rate: Hz expected at the ``audio`` input.
        channels: channels expected at the ``audio`` input.
        hop: samples per step; ``audio`` length must be a positive multiple of it.
        latency_samples: algorithmic latency at ``sample_rate``: how many samples after the
            instant an output frame describes the model needs before it can emit that frame.
        outputs: one entry per model output, in ONNX output order.
        state: one entry per state tensor, in ONNX input order after ``audio``.
        training: how the file was made (command, data recipe, seed, git commit, date).
        evaluation: figures measured on held-out data (free-form, numbers only).
        description: one paragraph for ``rtmir models``.
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
            card = cls(outputs=outputs, state=state, **raw)
        except (KeyError, TypeError) as exc:
            raise CardError(f"model card does not follow the schema: {exc}") from exc
        card.validate()
        return card

    def validate(self) -> None:
        """Check values that the runtime relies on.

        Raises:
            CardError: a non-positive rate/channels/hop, negative latency, or no outputs.
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
            if s.dtype not in ("float32", "int64"):
                raise CardError(f"state {s.name!r} has unsupported dtype {s.dtype!r}")
