"""The codec training configuration: a frozen dataclass, read from a JSON file (no code executed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.spectral_codec import SpectralCodecConfig
from training.core.cli import read_config
from training.separate.crops import StemAugment


@dataclass(frozen=True)
class CodecTrainConfig:
    """Everything a codec run depends on (stored in the checkpoint and the card)."""

    model: SpectralCodecConfig = field(default_factory=SpectralCodecConfig)
    train_dir: str = "data/tags/train"  # python -m training.synth --kind band --split train (shared with tags, separate)
    val_dir: str = "data/tags/val-msg"  # python -m training.synth --kind band --split val
    cache_dir: str = "data/codec/cache"  # grouped stems at the model's rate (.npz, rebuilt when missing)
    out_dir: str = "runs/codec/run"
    train_clips: int = 0  # use the first N clips of train_dir (0: all)
    seed: int = 0
    crop_s: float = 1.0
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    max_minutes: float = 60.0
    max_steps: int = 1_000_000
    schedule: str = "time"
    val_every_minutes: float = 10.0
    val_every_steps: int = 0
    val_clips: int = 16
    patience: int = 100
    threads: int = 2
    loader_workers: int = 1
    solo_prob: float = 0.3  # a crop is one stem alone with this probability, else the mix
    level_dbfs: tuple[float, float] = (-30.0, -1.0)  # the crop's peak level
    full_prob: float = 0.5  # quantizer dropout: an item keeps every stage with this probability, else 1..n_q-1
    commitment_weight: float = 1.0
    kmeans_batches: int = 8  # the codebooks are k-means-initialised on this many batches' latents
    loss_ffts: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048)
    augment: StemAugment = field(default_factory=StemAugment)
    init_checkpoint: str = ""  # start from these weights (.safetensors or an exported .onnx of the same model config)


def load_config(path: str | Path) -> CodecTrainConfig:
    """Read a ``CodecTrainConfig`` from JSON (``training.core.cli.read_config``)."""
    return read_config(CodecTrainConfig, path)
