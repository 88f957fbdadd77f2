"""One separation training run on the training core (``training.core.loop.fit``)."""
from __future__ import annotations

from training.core.cli import loop_config
from training.core.loop import RunResult, fit
from training.core.provenance import dataset_record, training_record

from .config import SeparateConfig
from .data import GROUPS, load_stems
from .task import SeparateTask


def train(config: SeparateConfig, command: str = "") -> RunResult:
    """Train the separator (``train_on_stems`` with ``SeparateTask``)."""
    return train_on_stems(config, SeparateTask, command)


def train_on_stems(config, task_cls, command: str = "") -> RunResult:
    """Train (or resume an interrupted run in ``out_dir``); write ``best.safetensors`` and
    ``history.jsonl`` under ``out_dir``. The record keeps both datasets' manifests and the stem groups.

    Raises:
        ValueError: ``out_dir`` holds an interrupted run of another config.
        FileNotFoundError: a data folder is not a synth dataset.
    """
    rate = config.model.sample_rate
    train_clips = load_stems(config.train_dir, rate, config.cache_dir, config.train_clips or None)
    val = load_stems(config.val_dir, rate, config.cache_dir, config.val_clips)
    datasets = {"train": dataset_record(config.train_dir), "val": dataset_record(config.val_dir)}
    recipe = "; ".join(f"{k}: {d['command']}" for k, d in datasets.items() if d)
    record = training_record(command, recipe, config.seed, config, datasets=datasets, stem_groups=GROUPS,
                             train_clips=len(train_clips.stems), val_clips=len(val.stems))
    return fit(task_cls(config, train_clips, val), loop_config(config), record)
