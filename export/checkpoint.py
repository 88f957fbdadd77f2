"""Checkpoints that load without executing code: safetensors weights + the config as JSON.

A checkpoint is one ``.safetensors`` file. Its metadata (string → string) holds:

- ``rtmir.family``: the model family (``models.nets.FAMILIES`` key);
- ``rtmir.config``: the family's config dataclass as JSON (nested dataclasses as objects);
- ``rtmir.training``: optional JSON object for the card's ``training`` field (command, data,
  seed, git_commit, date), written by the training script.

So ``python -m export CKPT`` rebuilds the exact model from the file alone.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.nets import FAMILIES, build_model
from models.streaming import StreamingModel

FAMILY_KEY = "rtmir.family"
CONFIG_KEY = "rtmir.config"
TRAINING_KEY = "rtmir.training"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or its config does not rebuild its weights."""


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass (possibly nested) as plain JSON-able data."""
    return dataclasses.asdict(config)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(non_none[0], value)
    if dataclasses.is_dataclass(tp):
        return config_from_dict(tp, value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0]):
            return tuple(_convert(args[0], v) for v in value)  # e.g. tuple[BandConfig, ...]
        return tuple(value)
    return value


def config_from_dict(cls: type, raw: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from ``config_to_dict`` output.

    Raises:
        CheckpointError: a field unknown to ``cls`` (a typo or a config from another version).
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise CheckpointError(f"config for {cls.__name__} has unknown fields {unknown}")
    return cls(**{k: _convert(hints[k], v) for k, v in raw.items()})


def save_checkpoint(model: StreamingModel, path: str | Path, training: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights, family and config (and optional training info) to ``path``."""
    path = Path(path)
    meta = {FAMILY_KEY: model.family, CONFIG_KEY: json.dumps(config_to_dict(model.config))}
    if training is not None:
        meta[TRAINING_KEY] = json.dumps(training)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=meta)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The checkpoint's string metadata (family, config, training).

    Raises:
        CheckpointError: the file is missing or is not a safetensors file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own SafetensorError and OSError
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc


def load_checkpoint(path: str | Path) -> StreamingModel:
    """Rebuild the model stored in ``path`` (eval mode): a checkpoint, or a file ``export_model``
    wrote (``export.from_onnx.load_exported``). No code from the file is executed.

    Raises:
        CheckpointError: missing metadata, unknown family, bad config, or weights that do not
            match the rebuilt model.
    """
    if Path(path).suffix == ".onnx":
        from .from_onnx import load_exported

        return load_exported(path)
    meta = read_metadata(path)
    if FAMILY_KEY not in meta or CONFIG_KEY not in meta:
        raise CheckpointError(f"checkpoint {path} lacks '{FAMILY_KEY}'/'{CONFIG_KEY}' metadata: save it with save_checkpoint")
    family = meta[FAMILY_KEY]
    if family not in FAMILIES:
        raise CheckpointError(f"checkpoint {path} has unknown family {family!r}; known: {sorted(FAMILIES)}")
    config = config_from_dict(FAMILIES[family][0], json.loads(meta[CONFIG_KEY]))
    model = build_model(family, config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} weights do not match its config: {str(exc).splitlines()[0]}") from exc
    return model.eval()


def training_info(path: str | Path) -> dict[str, Any]:
    """The ``training`` object stored in the checkpoint (of an exported ``.onnx``: its card's), or ``{}``."""
    if Path(path).suffix == ".onnx":
        from rtmir.zoo import read_card_file

        return dict(read_card_file(Path(path)).training)
    raw = read_metadata(path).get(TRAINING_KEY)
    return json.loads(raw) if raw else {}
