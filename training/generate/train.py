"""One token-LM training run on the training core (``training.core.loop.fit``)."""
from __future__ import annotations

from training.core.cli import loop_config
from training.core.loop import RunResult, fit
from training.core.provenance import dataset_record, training_record

from .config import GenerateTrainConfig
from .task import GenerateTask
from .tokens import train_tokens, val_tokens


def train(config: GenerateTrainConfig, command: str = "") -> RunResult:
    """Encode the pieces with the shipped codec (cached), then train or resume in ``out_dir``;
    write ``best.safetensors`` and ``history.jsonl``. The record names the codec and both datasets.

    Raises:
        ValueError: ``out_dir`` holds an interrupted run of another config.
        rtmir.session.ModelError: the codec is not shipped.
    """
    from rtmir.codec.files import CodecPair

    pair = CodecPair.open(config.codec)
    if (pair.stages, pair.codebook_size, pair.sample_rate, pair.hop) != (
            config.model.n_stages, config.model.codebook_size, config.model.sample_rate, config.model.hop):
        raise ValueError(f"codec {pair.name} {pair.version} ({pair.stages} stages of {pair.codebook_size} codes, "
                         f"{pair.sample_rate} Hz, hop {pair.hop}) does not match the model config")
    train_set = train_tokens(pair, config.train_dir, config.token_cache, config.train_clips, config.seed)
    val = val_tokens(pair, config.val_dir, config.token_cache, config.val_clips)
    datasets = {"train": dataset_record(config.train_dir), "val": dataset_record(config.val_dir)}
    recipe = "; ".join(f"{k}: {d['command']}" for k, d in datasets.items() if d)
    record = training_record(command, recipe, config.seed, config, datasets=datasets,
                             codec={"name": pair.name, "version": pair.version},
                             train_pieces=len(train_set.names), val_pieces=len(val.names))
    return fit(GenerateTask(config, train_set, val), loop_config(config), record)
