"""Tiny instances of every block family, with the input granularity each one streams in.

A case builds ``(module, step, make_input)``: ``step`` is the smallest chunk (one hop for
audio-rate blocks, one frame for frame-rate blocks) and ``make_input(n_steps, seed)`` returns
a ``[1, C, n_steps * step]`` input. ``call(module, x, state)`` returns ``(outputs, new_state)``
with ``outputs`` a list of tensors whose last axis is time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from models.codec import CodecConfig, StreamingCodec
from models.conv import TCN, CausalConv1d
from models.frontend import CQTConfig, LogMelConfig, StreamingCQT, StreamingLogMel
from models.nets import RVQCoder, RVQCoderConfig
from models.rnn import StreamingGRU, StreamingLSTM
from models.rvq import RVQConfig
from models.transformer import CausalTransformer, TransformerConfig


@dataclass(frozen=True)
class Case:
    build: Callable[[], torch.nn.Module]
    step: int  # input samples/frames per output step
    channels: int  # input channels



CASES: dict[str, Case] = {
    "causal_conv": Case(lambda: CausalConv1d(3, 4, 3, dilation=2), 1, 3),
    "causal_conv_strided": Case(lambda: CausalConv1d(2, 4, 8, stride=4), 4, 2),
    "tcn": Case(lambda: TCN(6, 3, (1, 2, 4)), 1, 6),
    "logmel_rfft": Case(lambda: StreamingLogMel(LogMelConfig(n_fft=128, hop_size=32, n_mels=12)), 32, 1),
    "logmel_conv": Case(lambda: StreamingLogMel(LogMelConfig(n_fft=100, hop_size=30, n_mels=12, method="conv")), 30, 1),
    "hcqt": Case(lambda: StreamingCQT(CQTConfig(hop_size=64, f_min=220.0, n_bins=12, harmonics=(1.0, 2.0))), 64, 1),
    "lstm": Case(lambda: StreamingLSTM(5, 7, 2), 1, 5),
    "gru": Case(lambda: StreamingGRU(5, 7, 2), 1, 5),
    "transformer": Case(lambda: CausalTransformer(TransformerConfig(input_size=5, d_model=16, n_heads=2, n_layers=2, cache_frames=6)), 1, 5),
    "rvq_coder": Case(lambda: RVQCoder(RVQCoderConfig(hop=16, rvq=RVQConfig(dim=8, n_quantizers=3, codebook_size=16))), 16, 1),
    "codec": Case(lambda: StreamingCodec(CodecConfig(width=6, strides=(2, 3), rvq=RVQConfig(dim=4, n_quantizers=2, codebook_size=8))), 6, 1),
}


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return CASES[name].build().eval()


def make_input(name: str, n_steps: int, seed: int = 0) -> torch.Tensor:
    case = CASES[name]
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, case.channels, n_steps * case.step, generator=g)


def call(module: torch.nn.Module, x: torch.Tensor, state=None) -> tuple[list[torch.Tensor], dict]:
    """Uniform call: every block returns its outputs as a list plus the new state."""
    with torch.no_grad():
        result = module(x, state)
    *outs, new_state = result
    if len(outs) == 1 and isinstance(outs[0], tuple):  # StreamingCodec returns ((codes, audio), state)
        outs = list(outs[0])
    return list(outs), new_state


def stream(module: torch.nn.Module, x: torch.Tensor, chunk: int, state=None) -> tuple[list[torch.Tensor], dict]:
    """Call ``module`` chunk by chunk (``chunk`` input samples) and concatenate along time."""
    parts = []
    for i in range(0, x.shape[2], chunk):
        outs, state = call(module, x[:, :, i:i + chunk], state)
        parts.append(outs)
    return [torch.cat(p, dim=-1) for p in zip(*parts)], state


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x.double() - y.double()).abs().max()) if x.numel() else 0.0 for x, y in zip(a, b))
