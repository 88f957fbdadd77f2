"""Causal Transformer (pre-norm, ALiBi) with a fixed-size rolling KV cache as state.

Each frame attends to itself and to at most ``cache_frames`` previous frames (a sliding
window), with an ALiBi bias ``-slope_h * distance``: positions are relative, so nothing depends
on absolute time and the cache can roll forever. Offline and streaming run the same code: the
offline call is one chunk with an empty (all-invalid) cache.

Buffer arithmetic for one chunk of T frames (W = cache_frames)::

    keys:   | cache k[0..W) (valid mask) | new k[0..T) |        (W + T keys)
    query i sits at key index W + i; distance d = W + i - j
    allowed: 0 <= d <= W  and  valid[j]   (the valid mask starts all zero and fills up)
    next cache = the last W keys/values, next valid = the last W mask entries

State: ``valid [B, W]`` (float 0/1, shared by all layers), and per layer ``<i>.k``, ``<i>.v``
``[B, n_heads, W, head_dim]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .streaming import State, StreamingModule


@dataclass(frozen=True)
class TransformerConfig:
    input_size: int = 64  # features per input frame
    d_model: int = 128  # model width
    n_heads: int = 4  # attention heads (d_model divisible by it)
    n_layers: int = 4  # pre-norm blocks
    ff_mult: int = 4  # MLP hidden = ff_mult * d_model
    cache_frames: int = 256  # W: past frames each frame may attend to


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi slopes ``2^(-8 (h+1) / n_heads)`` for h = 0..n_heads-1, shape ``[n_heads]``."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


class CausalSelfAttention(nn.Module):
    """Multi-head attention over ``[cache, chunk]`` with the sliding-window mask and ALiBi."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}")
        self.n_heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.cache_frames = config.cache_frames
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.register_buffer("slopes", alibi_slopes(config.n_heads)[:, None, None])  # [H, 1, 1]

    def forward(self, x: Tensor, k_cache: Tensor, v_cache: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Args: ``x [B, T, D]``, caches ``[B, H, W, Dh]``, ``valid [B, W + T]`` (already extended).

        Returns: ``(y [B, T, D], next k cache, next v cache)``.
        """
        b, t, d = x.shape
        w = self.cache_frames
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2) for z in (q, k, v))  # [B, H, T, Dh]
        keys = torch.cat([k_cache, k], dim=2)  # [B, H, W + T, Dh]
        values = torch.cat([v_cache, v], dim=2)
        dist = (torch.arange(t, device=x.device)[:, None] + w) - torch.arange(w + t, device=x.device)[None]  # [T, W+T]
        allowed = (dist >= 0) & (dist <= w) & (valid[:, None, None, :] > 0.5)  # [B, 1, T, W+T]
        scores = q @ keys.transpose(2, 3) / math.sqrt(self.head_dim) - self.slopes * dist.to(x.dtype)
        attn = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # [B, H, T, W+T]
        y = (attn @ values).transpose(1, 2).reshape(b, t, d)  # [B, T, D]
        return self.out(y), keys[:, :, t:], values[:, :, t:]


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        hidden = config.ff_mult * config.d_model
        self.mlp = nn.Sequential(nn.Linear(config.d_model, hidden), nn.GELU(), nn.Linear(hidden, config.d_model))

    def forward(self, x: Tensor, k_cache: Tensor, v_cache: Tensor, valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.attn(self.ln1(x), k_cache, v_cache, valid)
        x = x + a
        return x + self.mlp(self.ln2(x)), k, v


class CausalTransformer(StreamingModule):
    """Sliding-window causal Transformer on channel-first frames.

    Args:
        config: see ``TransformerConfig``.

    Shapes: ``x [B, input_size, T] -> y [B, d_model, T]``; state described in the module
    docstring. No lookahead: ``latency_samples = 0``.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.proj_in = nn.Linear(config.input_size, config.d_model)
        self.blocks = nn.ModuleList([TransformerBlock(config) for _ in range(config.n_layers)])
        self.ln_f = nn.LayerNorm(config.d_model)
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        c = self.config
        kv_shape = (batch, c.n_heads, c.cache_frames, c.d_model // c.n_heads)
        state: State = {"valid": torch.zeros(batch, c.cache_frames)}
        for i in range(c.n_layers):
            state[f"{i}.k"] = torch.zeros(kv_shape)
            state[f"{i}.v"] = torch.zeros(kv_shape)
        return state

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        b, _, t = x.shape
        valid = torch.cat([state["valid"], torch.ones(b, t, dtype=x.dtype, device=x.device)], dim=1)  # [B, W+T]
        h = self.proj_in(x.transpose(1, 2))  # [B, T, D]
        new_state: State = {"valid": valid[:, t:]}
        for i, block in enumerate(self.blocks):
            h, new_state[f"{i}.k"], new_state[f"{i}.v"] = block(h, state[f"{i}.k"], state[f"{i}.v"], valid)
        return self.ln_f(h).transpose(1, 2), new_state
