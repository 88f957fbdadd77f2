"""Streaming codec skeleton: causal conv encoder -> RVQ -> causal conv decoder.

The encoder decimates by ``prod(strides)`` with strided causal convolutions, so one latent
frame per ``hop = prod(strides)`` samples; the decoder upsamples by repeating frames and
smoothing with causal convolutions (no transposed conv: its overlap would need a lookahead)::

    audio [B,1,N] -> CausalConv(k7) -> [gelu, CausalConv(k=2s, stride s)] per stride
                  -> CausalConv(k3) -> latent [B,D,N/hop] -> RVQ codes [B,n_q,N/hop]
    codes -> decode -> CausalConv(k3) -> [gelu, Upsample(s), CausalConv(k=2s)] per stride reversed
          -> gelu, CausalConv(k7) -> audio [B,1,N]

Encoder frame j depends on input samples up to the end of its hop; decoder samples of frame j
depend on codes up to j. So the only delay is the hop itself (buffering, not lookahead):
``latency_samples = 0``. Encoder and decoder each carry their conv caches as state.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from .conv import CausalConv1d
from .rvq import ResidualVectorQuantizer, RVQConfig
from .streaming import Pointwise, State, StreamingModule, StreamingSequential, sub_state, with_prefix


@dataclass(frozen=True)
class CodecConfig:
    sample_rate: int = 16000  # Hz
    width: int = 32  # conv channels
    strides: tuple[int, ...] = (4, 5, 8)  # encoder decimations; hop = their product
    rvq: RVQConfig = field(default_factory=RVQConfig)  # rvq.dim is the latent size


class Upsample1d(StreamingModule):
    """Repeat each frame ``factor`` times: ``[B, C, T] -> [B, C, T * factor]``; no state."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return {}

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        b, c, t = x.shape
        return x[:, :, :, None].expand(b, c, t, self.factor).reshape(b, c, t * self.factor), {}


def _gelu() -> Pointwise:
    return Pointwise(nn.GELU())


def build_encoder(config: CodecConfig) -> StreamingSequential:
    """Audio ``[B, 1, N]`` -> latent ``[B, rvq.dim, N // hop]``."""
    w = config.width
    layers: list[tuple[str, StreamingModule]] = [("0", CausalConv1d(1, w, 7))]
    for s in config.strides:
        layers += [(str(len(layers)), _gelu()), (str(len(layers) + 1), CausalConv1d(w, w, 2 * s, stride=s))]
    layers += [(str(len(layers)), _gelu()), (str(len(layers) + 1), CausalConv1d(w, config.rvq.dim, 3))]
    return StreamingSequential(layers)


def build_decoder(config: CodecConfig) -> StreamingSequential:
    """Latent ``[B, rvq.dim, T]`` -> audio ``[B, 1, T * hop]``."""
    w = config.width
    layers: list[tuple[str, StreamingModule]] = [("0", CausalConv1d(config.rvq.dim, w, 3))]
    for s in reversed(config.strides):
        n = len(layers)
        layers += [(str(n), _gelu()), (str(n + 1), Upsample1d(s)), (str(n + 2), CausalConv1d(w, w, 2 * s))]
    layers += [(str(len(layers)), _gelu()), (str(len(layers) + 1), CausalConv1d(w, 1, 7))]
    return StreamingSequential(layers)


class StreamingCodec(StreamingModule):
    """Encoder + RVQ + decoder; ``forward(audio, state) -> ((codes, audio_out), new_state)``.

    Args:
        config: see ``CodecConfig``.

    Shapes: ``audio [B, 1, N]`` (N a multiple of ``hop``) -> ``codes [B, n_q, N // hop]``
    (int64) and ``audio_out [B, 1, N]``. State ``encoder.*`` and ``decoder.*`` conv caches.
    Use ``encode``/``decode`` for one side only.
    """

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.hop = 1
        for s in config.strides:
            self.hop *= s
        self.encoder = build_encoder(config)
        self.rvq = ResidualVectorQuantizer(config.rvq)
        self.decoder = build_decoder(config)
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return {**with_prefix(self.encoder.initial_state(batch), "encoder"),
                **with_prefix(self.decoder.initial_state(batch), "decoder")}

    def encode(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """``audio [B, 1, N] -> (codes [B, n_q, N // hop], encoder state)`` (state names unprefixed)."""
        latent, s = self.encoder(audio, state)
        return self.rvq.encode(latent), s

    def decode(self, codes: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """``codes [B, n_q, T] -> (audio [B, 1, T * hop], decoder state)`` (names unprefixed)."""
        return self.decoder(self.rvq.decode(codes), state)

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[tuple[Tensor, Tensor], State]:
        state = self.fresh(audio, state)
        codes, enc_new = self.encode(audio, sub_state(state, "encoder"))
        out, dec_new = self.decode(codes, sub_state(state, "decoder"))
        return (codes, out), {**with_prefix(enc_new, "encoder"), **with_prefix(dec_new, "decoder")}
