"""Causal convolutions with a cached left context, and a dilated residual TCN.

A causal convolution sees only the past. Offline it is left-padded with zeros; streaming it
prepends the last ``context_samples`` inputs of the previous chunk (the cache) instead::

        cache (context)            new chunk x (T samples, a multiple of stride)
    |<---- context ---->|<----------------------- T ----------------------->|
    context = (kernel - 1) * dilation + 1 - stride
    output j reads xx[s*j : s*j + (kernel-1)*dilation + 1]   (s = stride)
      -> its receptive field ends at the last sample of its own stride frame: no lookahead
    next cache = the last `context` samples of xx

A zero cache is exactly the zero left padding of the offline form, so streaming = offline.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .streaming import State, StreamingModule, StreamingSequential, Pointwise, sub_state, with_prefix


class CausalConv1d(StreamingModule):
    """1-D convolution with no lookahead, streaming through a cache of past inputs.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps.
        dilation: spacing between taps (frames).
        stride: output decimation; chunks must be multiples of it.
        groups: as ``nn.Conv1d``.

    Shapes: ``x [B, in_channels, T]`` (T a multiple of ``stride``) ->
    ``y [B, out_channels, T // stride]``. State ``cache [B, in_channels, context_samples]``
    (absent when the context is 0, e.g. a 1x1 conv or kernel == stride). Real-time safe apart
    from torch's own allocations.

    Raises:
        ValueError: ``kernel_size`` shorter than ``stride`` (some inputs would be skipped).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 dilation: int = 1, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        span = (kernel_size - 1) * dilation + 1
        if span < stride:
            raise ValueError(f"CausalConv1d span {span} < stride {stride}: inputs would be skipped")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                              dilation=dilation, groups=groups)
        self.in_channels = in_channels
        self.stride = stride
        self.context_samples = span - stride
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        if not self.context_samples:
            return {}
        return {"cache": torch.zeros(batch, self.in_channels, self.context_samples)}

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if not self.context_samples:
            return self.conv(x), {}
        state = self.fresh(x, state)
        xx = torch.cat([state["cache"], x], dim=2)  # [B, C, context + T]
        return self.conv(xx), {"cache": xx[:, :, x.shape[2]:]}


class TCNBlock(StreamingModule):
    """Residual block: ``x + proj(gelu(causal_conv(gelu(x))))``.

    Args:
        channels: channels in and out.
        kernel_size: taps of the dilated causal conv.
        dilation: its dilation (frames).

    Shapes: ``[B, channels, T] -> [B, channels, T]``; state ``conv.cache``.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = CausalConv1d(channels, channels, kernel_size, dilation)
        self.proj = nn.Conv1d(channels, channels, 1)
        self.act = nn.GELU()
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return with_prefix(self.conv.initial_state(batch), "conv")

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        h, s = self.conv(self.act(x), sub_state(self.fresh(x, state), "conv"))
        return x + self.proj(self.act(h)), with_prefix(s, "conv")


class TCN(StreamingSequential):
    """A stack of dilated residual ``TCNBlock``s; state ``<i>.conv.cache`` per block.

    Args:
        channels: channels throughout.
        kernel_size: taps per block.
        dilations: one block per entry, e.g. ``(1, 2, 4, 8)``; the receptive field is
            ``1 + (kernel_size - 1) * sum(dilations)`` frames.

    Shapes: ``[B, channels, T] -> [B, channels, T]``.
    """

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__([(str(i), TCNBlock(channels, kernel_size, d)) for i, d in enumerate(dilations)])
        self.receptive_field_frames = 1 + (kernel_size - 1) * sum(dilations)


def pointwise_conv(in_channels: int, out_channels: int) -> Pointwise:
    """A 1x1 convolution as a stateless streaming block."""
    return Pointwise(nn.Conv1d(in_channels, out_channels, 1))
