"""Shipping a trained checkpoint to the zoo: its whole training history and figures in the card.

``ship_checkpoint`` exports a checkpoint (``export.export_model``: verified before anything is
written) with a card whose ``training`` holds the checkpoint's own record, every earlier stage
(followed back through each record's ``config.init_checkpoint``, oldest first), how the file was
exported and the command that produced the figures, and whose ``evaluation`` holds the task's
figures (numbers only).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def training_stages(checkpoint: str) -> list[dict]:
    """The training record of ``checkpoint`` and of every checkpoint it started from, oldest first."""
    from export.checkpoint import training_info

    stages, seen, path = [], set(), checkpoint
    while path and path not in seen and Path(path).is_file():
        seen.add(path)
        info = training_info(path)
        if Path(path).suffix == ".onnx" and "stages" in info:  # a shipped file: its card lists every stage
            return info["stages"] + stages[::-1]
        stages.append({"checkpoint": path, "command": info.get("command", ""), "steps": info.get("steps"),
                       "train_minutes": info.get("train_minutes"), "date": info.get("date"),
                       "git_commit": info.get("git_commit"), "history": info.get("history", [])})
        path = info.get("config", {}).get("init_checkpoint", "")
    return stages[::-1]


def ship_checkpoint(checkpoint: str, out: str | Path, *, name: str, task: str, version: str,
                    evaluation: dict[str, Any] | Callable[[Any], dict[str, Any]], program: str, argv: list[str] | None,
                    description: str = "", figures_command: str = ""):
    """Export ``checkpoint`` to ``out`` with its training stages and ``evaluation`` in the card.

    Args:
        evaluation: the card's figures, or a function ``model -> figures`` (it may need the
            model's hop and latency).
        program, argv: the shipping command, recorded as the export provenance.

    Returns:
        The card written.

    Raises:
        OSError, CheckpointError, ExportError: nothing is written then.
    """
    from export.api import CardFields, export_model, export_provenance
    from export.checkpoint import load_checkpoint, training_info

    model = load_checkpoint(checkpoint)
    training = {**training_info(checkpoint), "stages": training_stages(checkpoint),
                "export": export_provenance(argv, program=program), "figures": figures_command}
    figures = evaluation(model) if callable(evaluation) else evaluation
    return export_model(model, CardFields(name=name, task=task, version=version, description=description,
                                          training=training, evaluation=figures), out)
