"""A causal Transformer language model over RVQ codec tokens, in MusicGen's delay pattern.

The codec gives ``Q`` codes per frame (``c[f, q]``). The model reads one *step* per frame in which
stage ``q`` is delayed by ``q`` frames::

    step t holds   s[t, q] = c[t - q, q]      (t - q < 0: the start symbol, ``codebook_size``)

and predicts the next step ``s[t + 1, :]`` — stage 0 of frame ``t + 1``, stage 1 of frame ``t``,
… — each from every step before it, so a stage is predicted knowing the coarser stages of its
own frame. One call per frame gives all ``Q`` stages; a frame is complete ``Q - 1`` steps after
its first code (``delay_frames``). Stage ``q``'s embedding is summed into the step's vector and
tied to its output head (logits are ``h · E_q^T + b_q``), which keeps the model small.

``forward(tokens [B, Q, T] int64, state) -> (logits [B, Q, codebook_size, T], state)``; the state
is the Transformer's rolling KV cache (``models/transformer.py``), so a prompt and what follows
it run through the same cache, and offline equals streaming at any chunking.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .streaming import ModelInput, ModelOutput, State, StreamingModel, sub_state, with_prefix
from .transformer import CausalTransformer, TransformerConfig


@dataclass(frozen=True)
class TokenLMConfig:
    n_stages: int = 4  # Q: codes per frame modelled (the codec's stages, coarsest first)
    codebook_size: int = 1024  # codes per stage; the value codebook_size is the start symbol
    sample_rate: int = 24000  # the codec's rate (the time base of a step)
    hop: int = 160  # the codec's samples per frame
    transformer: TransformerConfig = field(default_factory=lambda: TransformerConfig(
        input_size=128, d_model=128, n_heads=4, n_layers=4, ff_mult=3, cache_frames=512))


def delay_pattern(codes: Tensor, start: int) -> Tensor:
    """Frame codes ``[B, Q, F]`` -> steps ``[B, Q, F + Q - 1]``: ``s[:, q, t] = c[:, q, t - q]``,
    ``start`` where ``t - q`` is outside ``0..F-1``."""
    b, q, f = codes.shape
    out = torch.full((b, q, f + q - 1), start, dtype=codes.dtype, device=codes.device)
    for k in range(q):
        out[:, k, k:k + f] = codes[:, k]
    return out


def undelay(steps: Tensor) -> Tensor:
    """Steps ``[B, Q, T]`` -> the complete frames ``[B, Q, T - Q + 1]`` (inverse of ``delay_pattern``)."""
    q = steps.shape[1]
    f = steps.shape[2] - q + 1
    return torch.stack([steps[:, k, k:k + f] for k in range(q)], dim=1)


class TokenLM(StreamingModel):
    """See the module docstring. ``hop`` and ``sample_rate`` are the codec's: one step per frame."""

    family = "token_lm"

    def __init__(self, config: TokenLMConfig) -> None:
        super().__init__()
        self.config = config
        t = config.transformer
        if t.input_size != t.d_model:
            raise ValueError(f"transformer input_size {t.input_size} must equal d_model {t.d_model} (tied embeddings)")
        self.sample_rate, self.hop, self.channels = config.sample_rate, config.hop, 1
        self.latency_samples = 0
        q, v = config.n_stages, config.codebook_size
        self.embed = nn.Parameter(torch.randn(q, v + 1, t.d_model) * t.d_model ** -0.5)  # + start symbol
        self.bias = nn.Parameter(torch.zeros(q, v))
        self.body = CausalTransformer(t)
        self.inputs = (ModelInput("tokens", "tokens", 1, (q,), vocab_size=v + 1),)
        self.outputs = (ModelOutput("logits", "logit", 1, (q, v)),)

    @property
    def delay_frames(self) -> int:
        """Steps from a frame's first code to its last (``Q - 1``)."""
        return self.config.n_stages - 1

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.body.initial_state(batch), "body")

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_inputs(tokens, state)
        state = self.fresh(tokens, state)
        q, v = self.config.n_stages, self.config.codebook_size
        x = sum(self.embed[k][tokens[:, k]] for k in range(q))  # [B, T, D]
        h, body_state = self.body(x.transpose(1, 2), sub_state(state, "body"))  # [B, D, T]
        logits = torch.einsum("bdt,qvd->bqvt", h, self.embed[:, :v]) + self.bias[None, :, :, None]
        return logits, with_prefix(body_state, "body")
