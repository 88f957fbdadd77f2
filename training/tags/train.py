"""One tagging training run on the training core (``training.core.loop.fit``)."""
from __future__ import annotations

from training.core import conditions
from training.core.cli import loop_config
from training.core.loop import RunResult, fit
from training.core.provenance import dataset_record, training_record
from training.synth.activity import CONVENTION

from .config import TagsConfig
from .data import load_split
from .task import TagsTask


def train(config: TagsConfig, command: str = "") -> RunResult:
    """Train (or resume an interrupted run in ``out_dir``); write ``best.safetensors`` and
    ``history.jsonl`` under ``out_dir``. The record keeps both datasets' manifests and the tags
    label convention.

    Raises:
        ValueError: an unknown validation condition (before any data is read), or ``out_dir``
            holds an interrupted run of another config.
        FileNotFoundError: a data folder is not a synth dataset.
    """
    try:
        conditions.check(config.val_conditions)
    except conditions.UnknownCondition as exc:
        raise ValueError(f"val_conditions {list(config.val_conditions)}: {exc}") from None
    train_clips = load_split(config.train_dir, config.cache_dir)
    val = load_split(config.val_dir, config.cache_dir).head(config.val_clips)
    datasets = {"train": dataset_record(config.train_dir), "val": dataset_record(config.val_dir)}
    recipe = "; ".join(f"{k}: {d['command']}" for k, d in datasets.items() if d)
    record = training_record(command, recipe, config.seed, config, datasets=datasets, label_convention=CONVENTION,
                             train_clips=len(train_clips.audio), val_clips=len(val.audio))
    return fit(TagsTask(config, train_clips, val), loop_config(config), record)
