"""The bodies a frame model can have (TCN, LSTM, GRU, Transformer), built from a config's fields.

Shared by ``models.nets.FrameModel`` (taggers, frame classifiers) and ``models.separator``: any
config with ``body``, ``width``, ``num_layers``, ``kernel_size``, ``dilations`` (and
``transformer`` for that body) describes one.
"""
from __future__ import annotations

from dataclasses import replace

from .conv import TCN, pointwise_conv
from .rnn import StreamingGRU, StreamingLSTM
from .streaming import StreamingModule
from .transformer import CausalTransformer


def body_layers(config, features: int) -> tuple[list[tuple[str, StreamingModule]], int]:
    """``([(name, layer), ...], output width)`` of ``config.body`` over ``features`` per frame:
    ``tcn`` (a 1x1 projection to ``width``, then the dilated causal TCN), ``lstm`` / ``gru``
    (``num_layers`` of ``width``), ``transformer`` (``config.transformer`` over the features).
    Every body is causal (latency 0).

    Raises:
        ValueError: another body name.
    """
    if config.body == "tcn":
        return [("proj", pointwise_conv(features, config.width)),
                ("tcn", TCN(config.width, config.kernel_size, config.dilations))], config.width
    if config.body in ("lstm", "gru"):
        cls = StreamingLSTM if config.body == "lstm" else StreamingGRU
        return [(config.body, cls(features, config.width, config.num_layers))], config.width
    if config.body == "transformer":
        t = replace(config.transformer, input_size=features)
        return [("transformer", CausalTransformer(t))], t.d_model
    raise ValueError(f"body must be tcn, lstm, gru or transformer, got {config.body!r}")
