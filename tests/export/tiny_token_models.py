"""Two tiny streaming token models, exported and verified: an encoder and a decoder that share
one residual quantizer (the codec of ``models.codec`` cut in two).

::

    encoder: audio [1, 1, N]  -> causal convs (strides 4, 4) -> RVQ encode -> tokens [1, Q, N / H] int64
    decoder: tokens [1, Q, T] -> RVQ decode -> causal convs, upsample x4 x4  -> audio  [1, 1, T * H] float32

``H = 16`` samples at 16 kHz, ``Q = 2`` quantizers of 16 entries. Both carry conv caches as
state; both are untrained, but the codebooks are k-means-initialised on the encoder's latents of
noise so the tokens vary. ``export_token_pair(out_dir)`` writes ``token-encoder.onnx`` and
``token-decoder.onnx`` (cards with task "test") through ``export.export_model``, which verifies
each (stream = offline at several lengths; tokens bit-exact) or raises.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from export import CardFields, VerifyOptions, export_model
from models.codec import CodecConfig, StreamingCodec
from models.rvq import RVQConfig
from models.streaming import ModelInput, ModelOutput, State, StreamingModel, sub_state, with_prefix

SAMPLE_RATE = 16000
CONFIG = CodecConfig(sample_rate=SAMPLE_RATE, width=8, strides=(4, 4),
                     rvq=RVQConfig(dim=4, n_quantizers=2, codebook_size=16, kmeans_iters=4))
HOP = 16  # prod(CONFIG.strides)
Q = CONFIG.rvq.n_quantizers
VOCAB = CONFIG.rvq.codebook_size
OPTIONS = VerifyOptions(n_hops=24, block_hops=(1, 3, 17))
TRAINING = {"command": "tests/export/tiny_token_models.py (untrained)", "data": "none", "seed": 0,
            "git_commit": "test", "date": "2026-12-01"}


class TokenEncoder(StreamingModel):
    """``audio [B, 1, N] -> tokens [B, Q, N // hop]`` (int64); state ``encoder.*`` conv caches."""

    family = "test"

    def __init__(self, codec: StreamingCodec) -> None:
        super().__init__()
        self.codec = codec
        self.sample_rate, self.channels, self.hop = codec.config.sample_rate, 1, codec.hop
        self.latency_samples = 0
        self.inputs = (ModelInput("audio", "audio", self.hop, (1,)),)
        self.outputs = (ModelOutput("tokens", "code", 1, (codec.config.rvq.n_quantizers,)),)

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.codec.encoder.initial_state(batch), "encoder")

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_inputs(audio, state)
        tokens, new = self.codec.encode(audio, None if state is None else sub_state(state, "encoder"))
        return tokens, with_prefix(new, "encoder")


class TokenDecoder(StreamingModel):
    """``tokens [B, Q, T]`` (int64) ``-> audio [B, 1, T * hop]``; state ``decoder.*`` conv caches."""

    family = "test"

    def __init__(self, codec: StreamingCodec) -> None:
        super().__init__()
        self.codec = codec
        rvq = codec.config.rvq
        self.sample_rate, self.channels, self.hop = codec.config.sample_rate, 1, codec.hop
        self.latency_samples = 0
        self.inputs = (ModelInput("tokens", "tokens", 1, (rvq.n_quantizers,), vocab_size=rvq.codebook_size),)
        self.outputs = (ModelOutput("audio", "audio", self.hop, (1,)),)

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.codec.decoder.initial_state(batch), "decoder")

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_inputs(tokens, state)
        audio, new = self.codec.decode(tokens, None if state is None else sub_state(state, "decoder"))
        return audio, with_prefix(new, "decoder")


def build_token_pair(seed: int = 0) -> tuple[TokenEncoder, TokenDecoder]:
    """The encoder and decoder (eval mode) around one codec, codebooks fitted to noise."""
    torch.manual_seed(seed)
    codec = StreamingCodec(CONFIG)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        latent, _ = codec.encoder(0.3 * torch.randn(4, 1, 64 * HOP, generator=g))
        codec.rvq.kmeans_init(latent, g)
    return TokenEncoder(codec).eval(), TokenDecoder(codec).eval()


def export_token_pair(out_dir: Path) -> tuple[Path, Path]:
    """Build, export and verify the pair; returns ``(encoder.onnx, decoder.onnx)`` in ``out_dir``.

    Raises:
        ExportError: either model failed its export verification (nothing is written for it).
    """
    encoder, decoder = build_token_pair()
    paths = (Path(out_dir) / "token-encoder.onnx", Path(out_dir) / "token-decoder.onnx")
    for model, name, path in ((encoder, "token-encoder", paths[0]), (decoder, "token-decoder", paths[1])):
        export_model(model, CardFields(name=name, task="test", training=TRAINING, evaluation={"untrained": 1},
                                       description=f"tiny {name} for graph tests (untrained)"),
                     path, options=OPTIONS)
    return paths


def export_tiny_lm(path: Path, stages: int = 4, codebook_size: int = 1024) -> Path:
    """An untrained 2-layer, 16-wide token LM (``models.token_lm``) over ``stages x codebook_size``
    codes (default: the shipped codec's), exported and verified with a ``generate`` card."""
    from models.token_lm import TokenLM, TokenLMConfig
    from models.transformer import TransformerConfig

    torch.manual_seed(0)
    config = TokenLMConfig(n_stages=stages, codebook_size=codebook_size,
                           transformer=TransformerConfig(input_size=16, d_model=16, n_heads=2, n_layers=2, ff_mult=2,
                                                         cache_frames=64))
    with torch.no_grad():
        export_model(TokenLM(config).eval(), CardFields(name="tiny-lm", task="generate", version="0.0.1",
                                                        training=TRAINING, description="tiny token LM (untrained)"),
                     Path(path))
    return Path(path)
