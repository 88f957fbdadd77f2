"""Top-level streaming models (contract 1) assembled from the blocks, and their registry.

- ``FrameModel`` (family ``frame``): frontend (log-mel or HCQT) -> body (TCN, LSTM, GRU or
  Transformer) -> 1x1 head; output ``logits [B, n_outputs, frames]``, one frame per hop.
- ``RVQCoder`` (family ``rvq``): strided causal conv framing -> RVQ; outputs
  ``codes [B, n_q, frames]`` (int64) and ``latent [B, dim, frames]`` (the decoded codes).
- ``CodecModel`` (family ``codec``): ``StreamingCodec``; outputs ``codes`` and
  ``audio_out [B, 1, N]``.

Each has ``family``, ``config`` (a frozen dataclass: checkpoints store it to rebuild the model),
``sample_rate``, ``channels``, ``hop``, ``latency_samples``, ``outputs`` and
``forward(audio[B, C, N], state=None) -> (*outputs, new_state)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from .bodies import body_layers
from .codec import CodecConfig, StreamingCodec
from .conv import CausalConv1d, pointwise_conv
from .frontend import CQTConfig, LogMelConfig, StreamingCQT, StreamingLogMel
from .pitch import PitchTCN, PitchTCNConfig
from .rvq import ResidualVectorQuantizer, RVQConfig
from .separator import MaskSeparator, SeparatorConfig
from .spectral_codec import CodecDecoder, CodecEncoder, SpectralCodec, SpectralCodecConfig
from .streaming import ModelOutput, State, StreamingModel, StreamingModule, StreamingSequential, sub_state, with_prefix
from .token_lm import TokenLM, TokenLMConfig
from .transformer import TransformerConfig


@dataclass(frozen=True)
class FrameModelConfig:
    frontend: str = "mel"  # "mel" or "cqt"
    mel: LogMelConfig = field(default_factory=LogMelConfig)  # used when frontend == "mel"
    cqt: CQTConfig = field(default_factory=CQTConfig)  # used when frontend == "cqt"
    body: str = "tcn"  # "tcn", "lstm", "gru" or "transformer"
    width: int = 64  # TCN channels / RNN hidden size
    num_layers: int = 2  # RNN layers
    kernel_size: int = 3  # TCN taps
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # TCN blocks
    transformer: TransformerConfig = field(default_factory=TransformerConfig)  # input_size is set from the frontend
    n_outputs: int = 8  # head size
    labels: tuple[str, ...] | None = None  # names of the head's outputs
    probabilities: bool = False  # output sigmoid(logits) as "probs" (unit probability): the float32 error of a
    # large logit is not carried into the output (notes-tcn's logits differ ORT vs torch by 3.4e-4)
    latency_samples: int | None = None  # declared latency: each frame is trained to describe the instant this
    # many samples before its hop's end (None: the frontend's window centre; a notes model declares less, its
    # window reaching back past the instant it reports for the pitches' context)


def _frontend(config: FrameModelConfig) -> tuple[StreamingModule, int, int, int]:
    """The frontend and its (features, sample_rate, hop)."""
    if config.frontend == "mel":
        m = config.mel
        return StreamingLogMel(m), m.channels * m.n_mels, m.sample_rate, m.hop_size
    if config.frontend == "cqt":
        c = config.cqt
        return StreamingCQT(c), c.channels * len(c.harmonics) * c.n_bins, c.sample_rate, c.hop_size
    raise ValueError(f"FrameModelConfig.frontend must be 'mel' or 'cqt', got {config.frontend!r}")


class FrameModel(StreamingModel):
    """Frontend -> body -> head: ``audio [B, C, N] -> logits [B, n_outputs, N // hop]`` (or, with
    ``config.probabilities``, ``probs``: their sigmoid)."""

    family = "frame"

    def __init__(self, config: FrameModelConfig) -> None:
        super().__init__()
        self.config = config
        frontend, features, self.sample_rate, self.hop = _frontend(config)
        self.channels = config.mel.channels if config.frontend == "mel" else config.cqt.channels
        body, width = body_layers(config, features)
        self.net = StreamingSequential([("frontend", frontend), *body, ("head", pointwise_conv(width, config.n_outputs))])
        self.latency_samples = self.net.latency_samples if config.latency_samples is None else config.latency_samples
        self.outputs = ((ModelOutput("probs", "probability", 1, (config.n_outputs,), config.labels),)
                        if config.probabilities else (ModelOutput("logits", "logit", 1, (config.n_outputs,), config.labels),))

    def initial_state(self, batch: int = 1) -> State:
        return self.net.initial_state(batch)

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_inputs(audio, state)
        out, new_state = self.net(audio, state)
        return (out.sigmoid() if self.config.probabilities else out), new_state


@dataclass(frozen=True)
class RVQCoderConfig:
    sample_rate: int = 16000  # Hz
    hop: int = 160  # samples per frame (the framing conv's stride)
    rvq: RVQConfig = field(default_factory=RVQConfig)  # rvq.dim = channels of the framing conv


class RVQCoder(StreamingModel):
    """Frame the audio with a causal conv (kernel 2*hop, stride hop), quantize each frame.

    ``audio [B, 1, N] -> codes [B, n_q, N // hop] (int64), latent [B, dim, N // hop]``; state
    ``frame.cache [B, 1, hop]``.
    """

    family = "rvq"

    def __init__(self, config: RVQCoderConfig) -> None:
        super().__init__()
        self.config = config
        self.sample_rate, self.channels, self.hop = config.sample_rate, 1, config.hop
        self.frame = CausalConv1d(1, config.rvq.dim, 2 * config.hop, stride=config.hop)
        self.rvq = ResidualVectorQuantizer(config.rvq)
        self.latency_samples = 0
        q = config.rvq
        self.outputs = (ModelOutput("codes", "code", 1, (q.n_quantizers,)),
                        ModelOutput("latent", "latent", 1, (q.dim,)))

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.frame.initial_state(batch), "frame")

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        self.check_inputs(audio, state)
        latent, s = self.frame(audio, sub_state(self.fresh(audio, state), "frame"))
        codes = self.rvq.encode(latent)
        return codes, self.rvq.decode(codes), with_prefix(s, "frame")


class CodecModel(StreamingModel):
    """``StreamingCodec`` as a top-level model: ``audio -> codes, audio_out``."""

    family = "codec"

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.codec = StreamingCodec(config)
        self.sample_rate, self.channels, self.hop = config.sample_rate, 1, self.codec.hop
        self.latency_samples = self.codec.latency_samples
        self.outputs = (ModelOutput("codes", "code", 1, (config.rvq.n_quantizers,)),
                        ModelOutput("audio_out", "audio", self.hop, (1,)))

    def initial_state(self, batch: int = 1) -> State:
        return self.codec.initial_state(batch)

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        self.check_inputs(audio, state)
        (codes, out), new_state = self.codec(audio, state)
        return codes, out, new_state


FAMILIES: dict[str, tuple[type, type]] = {
    "frame": (FrameModelConfig, FrameModel),
    "rvq": (RVQCoderConfig, RVQCoder),
    "codec": (CodecConfig, CodecModel),
    "pitch_tcn": (PitchTCNConfig, PitchTCN),  # models/pitch.py (issue #6)
    "separator": (SeparatorConfig, MaskSeparator),  # models/separator.py (issue #15)
    "spectral_codec": (SpectralCodecConfig, SpectralCodec),  # models/spectral_codec.py (issue #16)
    "codec_encoder": (SpectralCodecConfig, CodecEncoder),
    "codec_decoder": (SpectralCodecConfig, CodecDecoder),
    "token_lm": (TokenLMConfig, TokenLM),  # models/token_lm.py (issue #17)
}
"""family name -> (config dataclass, model class); checkpoints store the family and config."""


def build_model(family: str, config: object) -> StreamingModel:
    """Build a model of ``family`` from its config dataclass.

    Raises:
        ValueError: unknown family, or a config of the wrong type.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    config_cls, model_cls = FAMILIES[family]
    if not isinstance(config, config_cls):
        raise ValueError(f"family {family!r} needs a {config_cls.__name__}, got {type(config).__name__}")
    return model_cls(config)
