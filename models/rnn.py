"""Streaming LSTM and GRU over frame sequences, with their hidden state carried explicitly.

A recurrent layer is causal by construction; its whole past is summarised in ``h`` (and
``c`` for an LSTM)::

    chunk 1: x[0:T1]      , (h0, c0) = 0   ->  y[0:T1]      , (h1, c1)
    chunk 2: x[T1:T1+T2]  , (h1, c1)       ->  y[T1:T1+T2]  , (h2, c2)    == one call on x[0:T1+T2]

Export note (PLATFORM.md): the dynamo exporter bakes a fixed time length into an LSTM's
Reshape; export models containing these layers with the legacy exporter (``dynamo=False``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .streaming import State, StreamingModule


class StreamingLSTM(StreamingModule):
    """Multi-layer unidirectional LSTM on channel-first frames.

    Args:
        input_size: features per input frame.
        hidden_size: features per output frame.
        num_layers: stacked layers.

    Shapes: ``x [B, input_size, T] -> y [B, hidden_size, T]``. State ``h`` and ``c``, each
    ``[num_layers, B, hidden_size]``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        shape = (self.num_layers, batch, self.hidden_size)
        return {"h": torch.zeros(shape), "c": torch.zeros(shape)}

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        y, (h, c) = self.rnn(x.transpose(1, 2), (state["h"], state["c"]))  # [B, T, H]
        return y.transpose(1, 2), {"h": h, "c": c}


class StreamingGRU(StreamingModule):
    """Multi-layer unidirectional GRU on channel-first frames.

    Args:
        input_size: features per input frame.
        hidden_size: features per output frame.
        num_layers: stacked layers.

    Shapes: ``x [B, input_size, T] -> y [B, hidden_size, T]``. State ``h``
    ``[num_layers, B, hidden_size]``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.rnn = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return {"h": torch.zeros(self.num_layers, batch, self.hidden_size)}

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        y, h = self.rnn(x.transpose(1, 2), state["h"])  # [B, T, H]
        return y.transpose(1, 2), {"h": h}
