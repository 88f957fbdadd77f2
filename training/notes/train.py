"""One notes training run on the training core (``training.core.loop.fit``)."""
from __future__ import annotations

from training.core import conditions
from training.core.cli import loop_config
from training.core.loop import RunResult, fit
from training.core.provenance import dataset_record, training_record
from training.synth.aligned import CONVENTION as ALIGNED
from training.synth.folder import SynthFolder

from .config import NotesConfig
from .data import load_split
from .labels import CONVENTION, example_notes
from .task import NotesTask


def train(config: NotesConfig, command: str = "") -> RunResult:
    """Train (or resume an interrupted run in ``out_dir``); write ``best.safetensors`` and
    ``history.jsonl`` under ``out_dir``.

    Raises:
        ValueError: an unknown validation condition, or ``out_dir`` holds another config's run.
        FileNotFoundError: a data folder is not a synth dataset.
    """
    try:
        conditions.check(config.val_conditions)
    except conditions.UnknownCondition as exc:
        raise ValueError(f"val_conditions {list(config.val_conditions)}: {exc}") from None
    train_clips = load_split(config.train_dir, config.cache_dir)
    val = load_split(config.val_dir, config.cache_dir).head(config.val_clips)
    folder = SynthFolder(config.val_dir, config.val_clips)
    val_notes = [example_notes(folder.labels(i), folder.meta(i)) for i in range(len(folder))]
    datasets = {"train": dataset_record(config.train_dir), "val": dataset_record(config.val_dir)}
    recipe = "; ".join(f"{k}: {d['command']}" for k, d in datasets.items() if d)
    record = training_record(command, recipe, config.seed, config, datasets=datasets,
                             label_convention={**CONVENTION, "aligned": ALIGNED},
                             train_clips=len(train_clips.audio), val_clips=len(val.audio))
    return fit(NotesTask(config, train_clips, val, val_notes), loop_config(config), record)
