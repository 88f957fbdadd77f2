"""The tagging training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.frontend import LogMelConfig
from models.nets import FrameModelConfig
from training.core.cli import read_config
from training.core.conditions import AugmentRanges
from training.synth.activity import TAGS

DEFAULT_MODEL = FrameModelConfig(
    frontend="mel", mel=LogMelConfig(sample_rate=16000, n_fft=1024, hop_size=320, n_mels=64, f_min=20.0,
                                     f_max=8000.0, method="conv"),
    body="lstm", width=128, num_layers=2, n_outputs=len(TAGS), labels=TAGS)
"""Log-mel 64 bands over 64 ms windows every 20 ms -> 2-layer LSTM 128 -> one logit per family."""


@dataclass(frozen=True)
class TagsConfig:
    """Everything a tagging run depends on (stored in the checkpoint and the card)."""

    model: FrameModelConfig = DEFAULT_MODEL
    train_dir: str = "data/tags/train"  # python -m training.synth --kind band --split train
    val_dir: str = "data/tags/val-msg"  # python -m training.synth --kind band --split val
    cache_dir: str = "data/tags/cache"  # 16 kHz clips as .npz (rebuilt when missing)
    out_dir: str = "runs/tags/run"  # checkpoints and the log
    seed: int = 0
    crop_s: float = 4.0  # training crop, seconds (a multiple of the hop and of 10 ms)
    batch_size: int = 16
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    max_minutes: float = 50.0  # wall-clock training budget (validation included)
    max_steps: int = 1_000_000  # step limit (the smoke test uses it)
    schedule: str = "time"  # the cosine runs over "time" (max_minutes) or "steps" (max_steps)
    val_every_minutes: float = 6.0
    val_every_steps: int = 0
    val_clips: int = 48  # clips of val_dir used for periodic validation
    val_conditions: tuple[str, ...] = ("clean",)  # training.core.conditions scored at each validation
    patience: int = 4
    threads: int = 2
    loader_workers: int = 1
    augment: AugmentRanges = field(default_factory=AugmentRanges)  # no crowds: they would add families
    init_checkpoint: str = ""  # start from these weights (a .safetensors checkpoint of the same model config)
    lookahead_s: float = 0.0  # train and validate against labels this much before each frame's instant: the
    # same model looking ahead (the non-causal comparison of issue #14); never shipped, its card would
    # declare only the frontend's latency


def load_config(path: str | Path) -> TagsConfig:
    """Read a ``TagsConfig`` from JSON (``training.core.cli.read_config``: fields left out keep their
    defaults).

    Raises:
        ValueError: not JSON, a field unknown to the config, or a head that is not one output per tag.
    """
    config = read_config(TagsConfig, path)
    if config.model.n_outputs != len(TAGS) or tuple(config.model.labels or ()) != TAGS:
        raise ValueError(f"config {path}: the model's head must be the {len(TAGS)} tags {list(TAGS)}")
    if config.augment.crowd_prob:
        raise ValueError(f"config {path}: augment.crowd_prob must be 0 for tagging (a crowd adds families)")
    return config
