"""Streaming-causal PyTorch building blocks (DESIGN.md, contract 1) and the models built from them.

One layer family per module: ``conv`` (CausalConv1d, TCN), ``frontend`` (log-mel, HCQT),
``rnn`` (LSTM, GRU), ``transformer`` (ALiBi + rolling KV cache), ``rvq`` (residual VQ),
``codec`` (encoder -> RVQ -> decoder). ``streaming`` holds the contract and containers,
``nets`` the top-level models and their registry.
"""
from .nets import FAMILIES, CodecModel, FrameModel, FrameModelConfig, RVQCoder, RVQCoderConfig, build_model
from .streaming import ModelInput, ModelOutput, State, StateError, StreamingModel, StreamingModule

__all__ = [
    "FAMILIES", "CodecModel", "FrameModel", "FrameModelConfig", "ModelInput", "ModelOutput", "RVQCoder",
    "RVQCoderConfig", "State", "StateError", "StreamingModel", "StreamingModule", "build_model",
]
