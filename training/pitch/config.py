"""The training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from models.pitch import PitchTCNConfig
from training.core.cli import read_config
from training.core.conditions import AugmentRanges

__all__ = ["AugmentRanges", "TrainConfig", "load_config", "config_json"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in the checkpoint and the card)."""

    model: PitchTCNConfig = field(default_factory=PitchTCNConfig)
    train_dir: str = "/work/data/pitch/train"  # python -m training.synth --kind mono --split train
    val_dir: str = "/work/data/pitch/val-msg"  # python -m training.synth --kind mono --split val
    cache_dir: str = "/work/data/pitch/cache"  # 16 kHz clips as .npz (rebuilt when missing)
    out_dir: str = "/work/data/pitch/run"  # checkpoints and the log
    seed: int = 0
    crop_s: float = 2.0  # training crop, seconds (a multiple of 10 ms)
    batch_size: int = 16
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 1e-4
    warmup_steps: int = 200  # linear warm-up, then cosine decay over the time budget
    max_minutes: float = 50.0  # wall-clock training budget (validation included)
    max_steps: int = 1_000_000  # step limit (the smoke test uses it)
    schedule: str = "time"  # the cosine runs over "time" (max_minutes) or "steps" (max_steps)
    blur_cents: float = 25.0  # std of the Gaussian salience target
    salience_weight: float = 20.0  # x mean BCE over bins (voiced frames)
    voicing_weight: float = 1.0  # x voicing BCE (all frames)
    onset_weight: float = 1.0  # salience loss weight of the first onset_hops frames of each note
    onset_hops: int = 8  # frames after an onset (unvoiced -> voiced, or a jump > 40 cents) weighted
    oscillator_prob: float = 0.0  # share of crops that are synthetic lines over the whole range (v2: 0.2)
    oscillator_hz: tuple[float, float] = (27.5, 4300.0)  # their voiced f0 range (training.synth.oscillators)
    init_checkpoint: str = ""  # start from these weights: same model config (fine-tune) or a
    # smaller one of the same frontend, grown function-preservingly (warm_start.grow_into)
    val_every_minutes: float = 6.0  # periodic validation by time ...
    val_every_steps: int = 0  # ... and/or every this many steps (0: by time only)
    val_clips: int = 48  # clips of val_dir used for periodic validation (all for the final one)
    val_conditions: tuple[str, ...] = ("clean",)  # training.core.conditions scored at each validation;
    # the best checkpoint maximises their mean rpa + oa (the saved threshold is the first one's)
    patience: int = 4  # stop after this many validations without a better score
    threads: int = 2  # torch.set_num_threads
    loader_workers: int = 1  # DataLoader processes doing the augmentation
    augment: AugmentRanges = field(default_factory=AugmentRanges)  # training.core.conditions.augment_crop


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``TrainConfig`` from JSON (``training.core.cli.read_config``: fields left out keep their
    defaults, a field unknown to the config is a ValueError)."""
    return read_config(TrainConfig, path)


def config_json(config: TrainConfig) -> str:
    """The config as JSON (what the run used, every field)."""
    return json.dumps(asdict(config), indent=1)
