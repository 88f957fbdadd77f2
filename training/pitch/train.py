"""Training the streaming pitch model: ``train(config)`` = ``PitchTask`` on ``training.core.loop.fit``.

The loop (AdamW, warm-up + cosine over the wall-clock budget, clipping, skipped non-finite
steps, validation on several conditions, patience, best checkpoint in ``export/checkpoint.py``'s
format, ``history.jsonl``, resuming an interrupted run) is the training core's; the loss, the
batches and the validation are ``task.PitchTask``'s. The best checkpoint carries the training
record the card needs (command, data, seed, git commit, date, curves, voicing threshold).
"""
from __future__ import annotations

from training.core import conditions
from training.core.cli import loop_config
from training.core.loop import RunResult, fit
from training.core.provenance import dataset_record, training_record

from .config import TrainConfig
from .data import load_split
from .task import PitchTask

__all__ = ["RunResult", "loop_config", "train"]


def train(config: TrainConfig, command: str = "", data_recipe: str = "") -> RunResult:
    """Train (or resume an interrupted run in ``out_dir``); write ``best.safetensors`` and
    ``history.jsonl`` under ``out_dir``. The record keeps both datasets' manifests (their render
    commands, soundfonts, label convention); ``data_recipe`` overrides the recipe line.

    Raises:
        ValueError: an unknown validation condition (before any data is read), or ``out_dir``
            holds an interrupted run of another config.
        FileNotFoundError: a data folder is not a synth dataset.
    """
    try:
        conditions.check(config.val_conditions)  # fail now, not at the first validation
    except conditions.UnknownCondition as exc:
        raise ValueError(f"val_conditions {list(config.val_conditions)}: {exc}") from None
    loop = loop_config(config)
    train_clips = load_split(config.train_dir, config.cache_dir)
    val = load_split(config.val_dir, config.cache_dir).head(config.val_clips)
    datasets = {"train": dataset_record(config.train_dir), "val": dataset_record(config.val_dir)}
    recipe = data_recipe or "; ".join(f"{k}: {d['command']}" for k, d in datasets.items() if d)
    record = training_record(command, recipe, config.seed, config, datasets=datasets,
                             label_convention=datasets["train"].get("label_convention", {"name": "midi"}),
                             train_clips=len(train_clips.audio), val_clips=len(val.audio))
    return fit(PitchTask(config, train_clips, val), loop, record)
