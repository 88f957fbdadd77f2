"""A streaming mask separator: causal STFT -> recurrent or TCN core -> one mask per stem -> overlap-add.

Family ``separator``. ``audio [B, 1, N] -> drums, bass, other, melody`` (each ``[B, 1, N]``), one
frame per hop::

    x ─ causal STFT (sqrt-Hann, W samples ending at the hop's last sample) ─ X [K bins, complex]
      └ log power ─ per-frame norm ─ body (GRU / LSTM / TCN) ─ 1x1 ─ mask logits [S stems, K]
    masks: sigmoid per stem, or a softmax over the stems ("consistent": the stems sum to the mix)
    stem s = overlap-add of the synthesis-windowed inverse DFT of (mask_s * X)

Analysis and synthesis windows are ``sqrt(hann)`` and ``sqrt(hann) * 2H / W`` (periodic Hann,
constant overlap-add at ``H = W/4`` or ``W/2``): with all masks 1 the output is the input,
``W - H`` samples later. Output sample ``p`` of the stream is the estimate of input sample
``p - latency_samples``, ``latency_samples = W - H`` (every frame covering that sample has been
seen); the host's hop buffering (``H - 1``) comes on top, so a click comes back ``W - 1`` samples
later in all: 255 samples, 11.6 ms, for ``W = 256`` at 22.05 kHz.

State: the analysis cache ``stft.cache [B, 1, W - H]``, the body's (``gru.h`` ...), and the
overlap-add tails ``ola [B, S, W - H]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .conv import pointwise_conv
from .bodies import body_layers
from .stft import StreamingSTFT, overlap_add, synthesis_basis
from .streaming import ModelOutput, Pointwise, State, StreamingModel, StreamingSequential, sub_state, with_prefix

STEMS = ("drums", "bass", "other", "melody")
"""The stems of issue #15, in output order."""


@dataclass(frozen=True)
class SeparatorConfig:
    sample_rate: int = 22050  # Hz
    n_fft: int = 256  # window and DFT length, samples
    hop_size: int = 64  # samples between frames (W/4 or W/2)
    stems: tuple[str, ...] = STEMS
    body: str = "gru"  # "gru", "lstm" or "tcn" (models.nets.body_layers)
    width: int = 128  # RNN hidden size / TCN channels
    num_layers: int = 2  # RNN layers
    kernel_size: int = 3  # TCN taps
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # TCN blocks
    masks: str = "sigmoid"  # "sigmoid" (each stem on its own) or "consistent" (softmax: stems sum to the mix)
    log_floor: float = 1e-8  # added to the power before the log


class FrameNorm(nn.Module):
    """Per frame, the features less their mean over the feature axis, over their standard
    deviation, then a learnt per-feature scale and offset: ``[B, F, T] -> [B, F, T]``. A gain on
    the input shifts every log-power feature alike, so the normalised frame does not see it."""

    def __init__(self, features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features, 1))
        self.bias = nn.Parameter(torch.zeros(features, 1))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        centred = x - x.mean(dim=1, keepdim=True)
        return centred * torch.rsqrt(centred.square().mean(dim=1, keepdim=True) + self.eps) * self.weight + self.bias


class MaskSeparator(StreamingModel):
    """``audio [B, 1, N] -> (stem_1 .. stem_S, state)``, each stem ``[B, 1, N]`` (module docstring)."""

    family = "separator"

    def __init__(self, config: SeparatorConfig) -> None:
        super().__init__()
        if config.masks not in ("sigmoid", "consistent"):
            raise ValueError(f"SeparatorConfig.masks must be 'sigmoid' or 'consistent', got {config.masks!r}")
        if config.body not in ("gru", "lstm", "tcn"):
            raise ValueError(f"SeparatorConfig.body must be gru, lstm or tcn, got {config.body!r}")
        self.config = config
        w, h, s = config.n_fft, config.hop_size, len(config.stems)
        self.sample_rate, self.channels, self.hop = config.sample_rate, 1, h
        self.n_bins = w // 2 + 1
        self.n_stems = s
        self.stft = StreamingSTFT(w, h)
        body, width = body_layers(config, self.n_bins)
        self.net = StreamingSequential([("norm", Pointwise(FrameNorm(self.n_bins))), *body,
                                        ("head", pointwise_conv(width, s * self.n_bins))])
        self.register_buffer("synthesis_basis", synthesis_basis(w, h))
        self.tail = w - h
        self.latency_samples = w - h
        self.outputs = tuple(ModelOutput(name, "audio", h, (1,)) for name in config.stems)

    def initial_state(self, batch: int = 1) -> State:
        return {**with_prefix(self.stft.initial_state(batch), "stft"), **with_prefix(self.net.initial_state(batch), "net"),
                "ola": torch.zeros(batch, self.n_stems, self.tail)}

    def masks(self, spec: Tensor, state: State) -> tuple[Tensor, State]:
        """Masks ``[B, S, K, T]`` in 0..1 for the complex frames ``spec [B, 2K, T]``."""
        k = self.n_bins
        power = spec[:, :k].square() + spec[:, k:].square()
        logits, s = self.net(torch.log(power + self.config.log_floor), state)
        logits = logits.reshape(logits.shape[0], self.n_stems, k, -1)
        if self.config.masks == "consistent":
            return torch.softmax(logits, dim=1), s
        return torch.sigmoid(logits), s

    def forward(self, audio: Tensor, state: State | None = None) -> tuple[Tensor, ...]:
        self.check_inputs(audio, state)
        state = self.fresh(audio, state)
        spec, s_stft = self.stft(audio, sub_state(state, "stft"))  # [B, 2K, T]
        masks, s_net = self.masks(spec, sub_state(state, "net"))
        b, s, k, t = masks.shape
        masked = (masks.unsqueeze(2) * spec.reshape(b, 1, 2, k, t)).reshape(b * s, 2 * k, t)
        done, tail = overlap_add(masked, self.synthesis_basis, self.hop, state["ola"].reshape(b * s, 1, self.tail))
        done = done.reshape(b, s, -1)  # [B, S, T * hop]
        stems = tuple(done[:, i:i + 1] for i in range(s))
        new_state = {**with_prefix(s_stft, "stft"), **with_prefix(s_net, "net"), "ola": tail.reshape(b, s, self.tail)}
        return (*stems, new_state)
