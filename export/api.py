"""``export_model``: torch model -> verified single-file ONNX with its card (contract 2).

Order of work::

    verify in torch (causality, stream = offline) -> to_onnx (dynamo or legacy) -> embed card
    -> verify the graph (checker, names, ORT = torch offline, ORT streamed = torch offline) -> write to a temporary file -> StreamingSession opens it -> rename into place

Nothing is written at ``out_path`` unless every step passed.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from models.streaming import StreamingModel
from rtmir.card import CARD_KEY, InputSpec, ModelCard, OutputSpec, StateSpec
from rtmir.session import ModelError, StreamingSession

from .compact import compute_dft_bases, strip_node_metadata
from .from_onnx import embed_model_config
from .onnx_graph import ExportError, to_onnx
from .verify import VerifyOptions, covering, verify_onnx, verify_torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardFields:
    """The card fields a model cannot know about itself."""

    name: str  # short zoo name, e.g. "pitch-tcn"
    task: str  # "pitch", "tags", "separation", "codec", "generation" or "test"
    version: str = "0.1.0"  # semantic version of the file
    description: str = ""  # one paragraph for `rtmir models`
    training: dict[str, Any] = field(default_factory=dict)  # command, data, seed, git_commit, date
    evaluation: dict[str, Any] = field(default_factory=dict)  # held-out figures, numbers only


def input_specs(model: StreamingModel) -> list[InputSpec]:
    """The card's ``inputs``: every data input of ``model`` in ONNX order."""
    return [
        InputSpec(i.name, i.kind, [1, *i.features, *([] if not i.per_hop else ["samples" if i.kind == "audio" else "frames"])],
                  "int64" if i.kind == "tokens" else "float32",
                  model.sample_rate * i.per_hop / model.hop if i.per_hop else None,
                  list(i.labels) if i.labels else None, i.vocab_size or None)
        for i in model.data_inputs
    ]


def build_card(model: StreamingModel, fields: CardFields) -> ModelCard:
    """The card of ``model``: rates, hop, latency, inputs, outputs and state from the model itself."""
    outputs = [
        OutputSpec(o.name, o.unit, model.sample_rate * o.per_hop / model.hop,
                   [1, *o.features, "frames" if o.per_hop == 1 else "samples"],
                   list(o.labels) if o.labels else None)
        for o in model.outputs
    ]
    state = [StateSpec(name, list(t.shape), str(t.numpy().dtype)) for name, t in model.initial_state(1).items()]
    card = ModelCard(
        name=fields.name, task=fields.task, version=fields.version, sample_rate=model.sample_rate,
        channels=model.channels, hop=model.hop, latency_samples=model.latency_samples, outputs=outputs,
        state=state, training=dict(fields.training), evaluation=dict(fields.evaluation),
        description=fields.description, inputs=input_specs(model),
    )
    card.validate()
    return card


def embed_card(proto: onnx.ModelProto, card: ModelCard) -> None:
    """Store ``card`` under ``rtmir.card`` in ``proto.metadata_props`` (replacing any old one)."""
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != CARD_KEY]
    del proto.metadata_props[:]
    for key, value in kept + [(CARD_KEY, card.to_json())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def export_model(model: StreamingModel, fields: CardFields, out_path: str | Path, exporter: str = "auto",
                 options: VerifyOptions = VerifyOptions()) -> ModelCard:
    """Export, verify and write ``model`` to ``out_path``; return the card written.

    Args:
        model: a contract-1 model (``models.StreamingModel``), on CPU.
        fields: card fields the model does not know (name, task, training, evaluation...).
        out_path: the ``.onnx`` file to write (single file, weights inside).
        exporter: "auto", "dynamo" or "legacy" (see ``export.onnx_graph``).
        options: verification signal length, block sizes and tolerance (signals are
            lengthened to roll any transformer KV cache over, see ``verify.covering``).

    Raises:
        ExportError: export or any verification step failed; the message says which and why.
            ``out_path`` is then left untouched.
    """
    out_path = Path(out_path)
    model = model.eval()
    card = build_card(model, fields)
    options = covering(model, options)
    report = verify_torch(model, options)  # refuse a non-streaming model before exporting it
    proto = to_onnx(model, exporter)
    compute_dft_bases(proto)  # the conv frontend's 4 MB basis is rebuilt at load (export.compact)
    strip_node_metadata(proto)  # the exporter's stack traces per node: not part of the model
    embed_card(proto, card)
    embed_model_config(proto, model)  # so the file can seed a later training stage (export.from_onnx)
    report.update(verify_onnx(model, proto, options))
    log.info("verified %s: worst diff %.3g", fields.name, max(report.values(), default=0.0))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    try:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
        StreamingSession(tmp)  # the runtime must accept the file as it will be shipped
        os.replace(tmp, out_path)
    except ModelError as exc:
        raise ExportError(f"the runtime rejects the exported file: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return card


def export_provenance(argv: list[str] | None, program: str = "python -m export") -> dict[str, str]:
    """How a file was exported: command line (``program`` + args), git commit of this checkout, UTC date.

    Args:
        argv: the program's arguments (None: ``sys.argv[1:]``).
        program: the command that ran, e.g. ``"python -m training.pitch.ship"``.
    """
    import subprocess
    import sys
    from datetime import datetime, timezone

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    args = sys.argv[1:] if argv is None else argv
    return {"command": f"{program} " + " ".join(args), "git_commit": commit,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
