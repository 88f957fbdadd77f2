"""The five model families of issue #3, small and untrained, exported once per test session."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from export import CardFields, VerifyOptions, export_model
from models import CodecModel, FrameModel, FrameModelConfig, RVQCoder, RVQCoderConfig, StreamingModel
from models.codec import CodecConfig
from models.frontend import CQTConfig, LogMelConfig
from models.rvq import RVQConfig
from models.transformer import TransformerConfig

SAMPLE_RATE = 16000
MEL = LogMelConfig(n_fft=256, hop_size=80, n_mels=16)


@dataclass(frozen=True)
class Family:
    build: Callable[[], StreamingModel]
    task: str


FAMILIES: dict[str, Family] = {
    "mel_tcn": Family(lambda: FrameModel(FrameModelConfig(mel=MEL, width=16, dilations=(1, 2, 4), n_outputs=6)), "pitch"),
    "hcqt_tcn": Family(lambda: FrameModel(FrameModelConfig(
        frontend="cqt", cqt=CQTConfig(hop_size=80, f_min=110.0, n_bins=24, harmonics=(1.0, 2.0)),
        width=16, dilations=(1, 2), n_outputs=6)), "pitch"),
    "mel_lstm": Family(lambda: FrameModel(FrameModelConfig(
        mel=LogMelConfig(n_fft=256, hop_size=80, n_mels=16, method="conv"), body="lstm", width=16,
        num_layers=2, n_outputs=4, labels=("a", "b", "c", "d"))), "tags"),
    "mel_gru": Family(lambda: FrameModel(FrameModelConfig(
        mel=LogMelConfig(n_fft=256, hop_size=80, n_mels=16, method="conv"), body="gru", width=16, n_outputs=4)), "tags"),
    "mel_transformer": Family(lambda: FrameModel(FrameModelConfig(
        mel=MEL, body="transformer", n_outputs=4,
        transformer=TransformerConfig(d_model=16, n_heads=2, n_layers=2, cache_frames=8))), "tags"),
    "rvq": Family(lambda: RVQCoder(RVQCoderConfig(hop=80, rvq=RVQConfig(dim=16, n_quantizers=4, codebook_size=64))), "codec"),
    "codec": Family(lambda: CodecModel(CodecConfig(width=8, strides=(4, 5), rvq=RVQConfig(dim=8, n_quantizers=3, codebook_size=32))), "codec"),
}
ROUND_TRIP = ["mel_tcn", "mel_lstm", "mel_transformer", "rvq", "codec"]
"""The five families the runtime round trip must cover (issue #3, deliverable 3)."""

OPTIONS = VerifyOptions(n_hops=24, block_hops=(1, 3, 17))


def build(name: str) -> StreamingModel:
    torch.manual_seed(0)
    return FAMILIES[name].build().eval()


def export_family(name: str, out_dir: Path) -> tuple[StreamingModel, Path]:
    model = build(name)
    path = out_dir / f"{name}.onnx"
    training = {"command": "tests/export (untrained)", "data": "none", "seed": 0, "git_commit": "test", "date": "2026-11-22"}
    export_model(model, CardFields(name=name, task=FAMILIES[name].task, training=training,
                                   evaluation={"untrained": 1}), path, options=OPTIONS)
    return model, path
