"""The notes training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from models.frontend import LogMelConfig
from models.nets import FrameModelConfig
from rtmir.tasks.note_decoder import N_OUTPUTS, output_labels
from training.core.cli import read_config
from training.core.conditions import AugmentRanges

DEFAULT_MODEL = FrameModelConfig(
    frontend="mel", mel=LogMelConfig(sample_rate=16000, n_fft=2048, hop_size=160, n_mels=229, f_min=30.0,
                                     f_max=8000.0, method="rfft"),
    body="tcn", width=192, kernel_size=3, dilations=(1, 2, 4, 8, 16, 32), n_outputs=N_OUTPUTS,
    labels=output_labels(), latency_samples=640)
"""Log-mel 229 bands over 128 ms windows every 10 ms -> TCN 192 x 6 (1.27 s of context) -> onset,
frame and offset of 88 pitches and 6 drum classes, each frame describing the instant 40 ms
before its hop's end (the window reaches 88 ms further back for the low pitches' periods)."""


@dataclass(frozen=True)
class NotesConfig:
    """Everything a notes run depends on (stored in the checkpoint and the card)."""

    model: FrameModelConfig = DEFAULT_MODEL
    train_dir: str = "data/notes/train"  # python -m training.synth --kind band --split train --labels aligned
    val_dir: str = "data/notes/val-msg"  # python -m training.synth --kind band --split val --labels aligned
    cache_dir: str = "data/notes/cache"
    out_dir: str = "runs/notes/run"
    seed: int = 0
    crop_s: float = 4.0
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    max_minutes: float = 50.0
    max_steps: int = 1_000_000
    schedule: str = "time"
    val_every_minutes: float = 6.0
    val_every_steps: int = 0
    val_clips: int = 48
    val_conditions: tuple[str, ...] = ("clean",)
    patience: int = 4
    threads: int = 2
    loader_workers: int = 1
    augment: AugmentRanges = field(default_factory=AugmentRanges)
    init_checkpoint: str = ""  # start from these weights (a .safetensors checkpoint of the same model config)
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"onset": 1.0, "frame": 1.0, "offset": 1.0, "drums": 1.0})
    # the mean BCE of each group is weighted so: a shared body learns what carries more weight (onsets and
    # offsets are a fraction of a percent of their rows' frames, their BCE ~20x the frames' smaller)
    val_onset_thresholds: tuple[float, ...] = (0.5,)  # validation scores the best of these (frame threshold 0.2 then)


def load_config(path: str | Path) -> NotesConfig:
    """Read a ``NotesConfig`` from JSON (fields left out keep their defaults).

    Raises:
        ValueError: not JSON, an unknown field, or a head that is not the decoder's layout
            (``model.labels`` may be left out: the layout's names are filled in).
    """
    config = read_config(NotesConfig, path)
    if config.model.labels is None:  # the head's names default to the decoder's layout
        config = replace(config, model=replace(config.model, labels=output_labels()))
    if config.model.n_outputs != N_OUTPUTS or tuple(config.model.labels or ()) != output_labels():
        raise ValueError(f"config {path}: the model's head must be the {N_OUTPUTS} outputs of rtmir.tasks.note_decoder")
    if config.model.latency_samples is None:
        raise ValueError(f"config {path}: model.latency_samples must be declared (the instant each frame describes)")
    return config
