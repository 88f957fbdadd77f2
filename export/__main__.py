"""``python -m export CHECKPOINT --out rtmir/zoo/NAME.onnx --name NAME --task TASK``.

Rebuilds the model from the checkpoint (safetensors + config, no code executed), exports it,
verifies it (checker, causality, stream = offline at several block sizes, ORT = torch) and
writes the file only if every check passed. Exit code 0 on success, 2 with one line on stderr
otherwise.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .api import CardFields, export_model, export_provenance
from .checkpoint import CheckpointError, load_checkpoint, training_info
from .onnx_graph import EXPORTERS, ExportError
from .verify import VerifyOptions


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path, help="a .safetensors checkpoint written by export.save_checkpoint")
    p.add_argument("--out", type=Path, required=True, help="the .onnx file to write (e.g. rtmir/zoo/NAME.onnx)")
    p.add_argument("--name", help="zoo name in the card (default: the output file's stem)")
    p.add_argument("--task", default="test", help="card task: pitch, tags, separate, codec, generation, test")
    p.add_argument("--version", default="0.1.0", help="semantic version of the file")
    p.add_argument("--description", default="", help="one paragraph for `rtmir models`")
    p.add_argument("--evaluation", default="{}", help="JSON object of held-out figures for the card")
    p.add_argument("--part", help="export one part of a model that has parts (the codec: encoder, decoder)")
    p.add_argument("--probabilities", action="store_true",
                   help="a frame model: export sigmoid(logits) as output 'probs' (float32 error of large logits stays out)")
    p.add_argument("--exporter", choices=EXPORTERS, default="auto", help="torch exporter (auto: legacy for LSTM/GRU)")
    p.add_argument("--verify-hops", type=int, default=48, help="length of each verification signal, in hops")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs diff allowed")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        evaluation = json.loads(args.evaluation)
        model = load_checkpoint(args.checkpoint)
        if args.part:
            if not hasattr(model, "part"):
                raise CheckpointError(f"{args.checkpoint} holds a {model.family} model, which has no parts")
            try:
                model = model.part(args.part)
            except ValueError as exc:
                raise CheckpointError(str(exc)) from exc
        if args.probabilities:
            model = with_probabilities(model)
        training = {**training_info(args.checkpoint), "export": export_provenance(argv)}
        fields = CardFields(name=args.name or args.out.stem, task=args.task, version=args.version,
                            description=args.description, training=training,
                            evaluation=evaluation)
        options = VerifyOptions(n_hops=args.verify_hops, tolerance=args.tolerance)
        card = export_model(model, fields, args.out, args.exporter, options)
    except (CheckpointError, ExportError, json.JSONDecodeError) as exc:
        print(f"export: {exc}; no file written", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {card.name} ({card.task}), {card.sample_rate} Hz, hop {card.hop}, "
          f"{len(card.state)} state tensors, verified")
    return 0


def with_probabilities(model):
    """The same frame model (same weights) with its output as probabilities.

    Raises:
        CheckpointError: not a frame model.
    """
    import dataclasses

    from models.nets import FrameModel

    if model.family != "frame":
        raise CheckpointError(f"--probabilities is for frame models, this is a {model.family} model")
    out = FrameModel(dataclasses.replace(model.config, probabilities=True))
    out.load_state_dict(model.state_dict())
    return out


if __name__ == "__main__":
    sys.exit(main())
