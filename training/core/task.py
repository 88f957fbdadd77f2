"""The seam between the training core and a task: what a task must define, nothing more.

A task (``training/<task>/task.py``) builds its model, serves its training batches, computes
its loss, validates (on several conditions of ``training.core.conditions``) and saves its best
checkpoint. ``training.core.loop.fit`` does everything else: seeding, the optimiser, the
schedule over the budget, clipping, skipping non-finite steps, validation timing, patience,
the best checkpoint, the history and resuming an interrupted run.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn


@dataclass(frozen=True)
class Validation:
    """One validation of a model.

    Attributes:
        by_condition: ``{condition: {metric: value}}``; the first condition's metrics are also the
            history entry's top-level figures.
        score: higher is better; the best checkpoint maximises it and patience counts
            validations that did not beat it.
        extra: fields for the best checkpoint's training record (e.g. pitch's voicing threshold).
    """

    by_condition: dict[str, dict[str, float]]
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """What ``fit`` needs from a task. Methods are called in this order: ``build_model`` once
    (after seeding: its initialisation is part of the run's random stream), ``batches`` at the
    start of every epoch, ``loss`` per step, ``validate`` when due, ``save_best`` after a better
    validation."""

    def build_model(self) -> nn.Module:
        """The model to train (initialised, warm-started if the task wants)."""
        ...

    def batches(self, model: nn.Module) -> Iterable[Any]:
        """One epoch of training batches (e.g. a ``DataLoader``; iterated once per epoch)."""
        ...

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar training loss of ``batch`` and named parts to show (floats)."""
        ...

    def validate(self, model: nn.Module) -> Validation:
        """Score ``model`` (the loop sets neither train nor eval mode: the task does)."""
        ...

    def save_best(self, model: nn.Module, path: Path, record: dict[str, Any]) -> Path:
        """Write the best checkpoint to ``path`` with the training ``record``; return the path."""
        ...


def warm_started(model: nn.Module, init_checkpoint: str) -> nn.Module:
    """``model`` with the weights of ``init_checkpoint`` (a ``.safetensors`` checkpoint or an
    exported ``.onnx``) when one is given, else ``model`` as it is.

    Raises:
        ValueError: the checkpoint holds another model config (``model.config`` must equal it).
        export.checkpoint.CheckpointError: the file cannot be read.
    """
    if not init_checkpoint:
        return model
    from export.checkpoint import load_checkpoint

    start_from = load_checkpoint(init_checkpoint)
    if getattr(start_from, "config", None) != getattr(model, "config", None):
        raise ValueError(f"init_checkpoint {init_checkpoint}: another model config")
    model.load_state_dict(start_from.state_dict())
    return model
