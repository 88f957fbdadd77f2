"""The separation training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.separator import SeparatorConfig
from training.core.cli import read_config

from .crops import StemAugment
from .data import STEMS


@dataclass(frozen=True)
class SeparateConfig:
    """Everything a separation run depends on (stored in the checkpoint and the card)."""

    model: SeparatorConfig = field(default_factory=SeparatorConfig)
    train_dir: str = "data/tags/train"  # python -m training.synth --kind band --split train (shared with tags)
    val_dir: str = "data/tags/val-msg"  # python -m training.synth --kind band --split val
    cache_dir: str = "data/separate/cache"  # grouped stems at the model's rate (.npz, rebuilt when missing)
    out_dir: str = "runs/separate/run"
    train_clips: int = 0  # use the first N clips of train_dir (0: all)
    seed: int = 0
    crop_s: float = 2.0
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    max_minutes: float = 30.0
    max_steps: int = 1_000_000
    schedule: str = "time"
    val_every_minutes: float = 5.0
    val_every_steps: int = 0
    val_clips: int = 32
    patience: int = 6
    threads: int = 2
    loader_workers: int = 1
    loss: str = "l1"  # "l1" (waveform L1 over the mix's mean absolute value) or "sdr" (soft-thresholded SDR)
    threshold_db: float = -30.0  # the sdr loss's soft threshold: errors this far under the mix cost nothing more
    augment: StemAugment = field(default_factory=StemAugment)
    init_checkpoint: str = ""  # start from these weights (.safetensors or an exported .onnx of the same model config)


def load_config(path: str | Path) -> SeparateConfig:
    """Read a ``SeparateConfig`` from JSON (``training.core.cli.read_config``: fields left out keep their
    defaults).

    Raises:
        ValueError: not JSON, a field unknown to the config, or stems other than drums/bass/other/melody.
    """
    config = read_config(SeparateConfig, path)
    if config.loss not in ("l1", "sdr"):
        raise ValueError(f"config {path}: loss must be 'l1' or 'sdr', got {config.loss!r}")
    if tuple(config.model.stems) != STEMS:
        raise ValueError(f"config {path}: the model's stems must be {list(STEMS)}")
    return config
