"""One codec training run on the training core (``training.core.loop.fit``), on the separation's stems."""
from __future__ import annotations

from training.core.loop import RunResult
from training.separate.train import train_on_stems

from .config import CodecTrainConfig
from .task import CodecTask


def train(config: CodecTrainConfig, command: str = "") -> RunResult:
    """Train (or resume an interrupted run in ``out_dir``); write ``best.safetensors`` and
    ``history.jsonl`` under ``out_dir``. The record keeps both datasets' manifests.

    Raises:
        ValueError: ``out_dir`` holds an interrupted run of another config.
        FileNotFoundError: a data folder is not a synth dataset.
    """
    return train_on_stems(config, CodecTask, command)
