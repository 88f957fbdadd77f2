"""The generator's training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.token_lm import TokenLMConfig
from training.core.cli import read_config


@dataclass(frozen=True)
class GenerateTrainConfig:
    """Everything a token-LM run depends on (stored in the checkpoint and the card)."""

    model: TokenLMConfig = field(default_factory=TokenLMConfig)
    codec: str = "codec"  # the zoo codec whose tokens are modelled (rtmir.codec.files.CodecPair.open)
    train_dir: str = "data/tags/train"  # python -m training.synth --kind band --split train (shared)
    val_dir: str = "data/tags/val-msg"  # python -m training.synth --kind band --split val (MuseScore_General)
    token_cache: str = "data/generate"  # encoded pieces (.npz, rebuilt when missing)
    out_dir: str = "runs/generate/run"
    train_clips: int = 1000  # the first N pieces of train_dir (two takes each: mix, stem subset)
    val_clips: int = 16  # the first N pieces of val_dir
    seed: int = 0
    crop_frames: int = 384  # steps per training window
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 200
    max_minutes: float = 60.0
    max_steps: int = 1_000_000
    schedule: str = "time"
    val_every_minutes: float = 10.0
    val_every_steps: int = 0
    patience: int = 100
    threads: int = 2
    init_checkpoint: str = ""  # start from these weights (.safetensors or .onnx of the same model config)


def load_config(path: str | Path) -> GenerateTrainConfig:
    """Read a ``GenerateTrainConfig`` from JSON (``training.core.cli.read_config``)."""
    return read_config(GenerateTrainConfig, path)
