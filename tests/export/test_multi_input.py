"""Models with several data inputs (audio + tokens + control values) export, verify and stream.

The contract-1 model takes ``forward(audio, tokens, gain, state)``; the exported graph takes
``audio, tokens, gain, state_in.*``; verification chunks audio and tokens at the same hops and
holds the control values; the card lists the three inputs; ``StreamingSession.step`` runs it.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import Tensor, nn

from export import CardFields, ExportError, export_model
from export.onnx_graph import io_names
from export.verify import torch_outputs, verification_inputs
from models.conv import CausalConv1d
from models.streaming import ModelInput, ModelOutput, State, StreamingModel, sub_state, with_prefix
from rtmir.session import StreamingSession
from tiny_families import OPTIONS

pytestmark = pytest.mark.torch

HOP, VOCAB = 8, 8


class _Mixer(StreamingModel):
    """audio ``[B, 1, N]`` + tokens ``[B, 1, N / 8]`` + gain ``[B, 2]`` -> ``mix [B, 1, N]``
    (causal conv of the audio weighted by the tokens' embeddings, scaled and offset by gain)
    and ``frames [B, 4, T]`` (a causal conv over the token embeddings). ``peek`` makes it look
    one token ahead (a lookahead it does not declare)."""

    family = "test"

    def __init__(self, peek: bool = False) -> None:
        super().__init__()
        self.sample_rate, self.channels, self.hop, self.latency_samples = 16000, 1, HOP, 0
        self.peek = peek
        self.audio_conv = CausalConv1d(1, 4, 5)
        self.embed = nn.Embedding(VOCAB, 4)
        self.token_conv = CausalConv1d(4, 4, 3)
        self.inputs = (ModelInput("audio", "audio", HOP, (1,)),
                       ModelInput("tokens", "tokens", 1, (1,), vocab_size=VOCAB),
                       ModelInput("gain", "control", 0, (2,), labels=("scale", "offset")))
        self.outputs = (ModelOutput("mix", "audio", HOP, (1,)), ModelOutput("frames", "latent", 1, (4,)))

    def initial_state(self, batch: int = 1) -> State:
        return {**with_prefix(self.audio_conv.initial_state(batch), "audio_conv"),
                **with_prefix(self.token_conv.initial_state(batch), "token_conv")}

    def forward(self, audio: Tensor, tokens: Tensor, gain: Tensor, state: State | None = None):
        self.check_inputs(audio, tokens, gain, state)
        state = self.fresh(audio, state)
        if self.peek:
            tokens = torch.cat([tokens[:, :, 1:], tokens[:, :, -1:]], dim=2)
        y, s_audio = self.audio_conv(audio, sub_state(state, "audio_conv"))  # [B, 4, N]
        e = self.embed(tokens[:, 0]).transpose(1, 2)  # [B, 4, T]
        b, c, t = e.shape
        per_sample = e[:, :, :, None].expand(b, c, t, HOP).reshape(b, c, t * HOP)  # [B, 4, N]
        mix = (y * per_sample).sum(dim=1, keepdim=True) * gain[:, 0, None, None] + gain[:, 1, None, None]
        frames, s_tokens = self.token_conv(e, sub_state(state, "token_conv"))
        return mix, frames, {**with_prefix(s_audio, "audio_conv"), **with_prefix(s_tokens, "token_conv")}


def _build(peek: bool = False) -> _Mixer:
    torch.manual_seed(0)
    return _Mixer(peek).eval()


@pytest.fixture(scope="module", params=["dynamo", "legacy"])
def exported(request, tmp_path_factory):
    model = _build()
    path = tmp_path_factory.mktemp("multi") / f"mixer-{request.param}.onnx"
    card = export_model(model, CardFields(name="mixer", task="test"), path, exporter=request.param, options=OPTIONS)
    return model, path, card


def test_graph_and_card_list_the_inputs_in_order(exported) -> None:
    model, path, card = exported
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == io_names(model)[0] == [
        "audio", "tokens", "gain", "state_in.audio_conv.cache", "state_in.token_conv.cache"]
    assert [(i.name, i.kind, i.shape, i.dtype, i.frame_rate, i.labels) for i in card.inputs] == [
        ("audio", "audio", [1, 1, "samples"], "float32", 16000.0, None),
        ("tokens", "tokens", [1, 1, "frames"], "int64", 2000.0, None),
        ("gain", "control", [1, 2], "float32", None, ["scale", "offset"])]
    assert StreamingSession(path).card == card


@pytest.mark.parametrize("hops", [1, 4, 7, 40], ids=lambda h: f"{h}hops")
def test_session_step_equals_torch_offline(exported, hops: int) -> None:
    model, path, _ = exported
    inputs = verification_inputs(model, 40, seed=3)["music"]
    ref = torch_outputs(model, inputs)
    session = StreamingSession(path)
    session.prepare(8)
    audio, tokens, gain = inputs
    parts = []
    for h in range(0, 40, hops):
        outs = session.step({"audio": audio[0, :, h * HOP:(h + hops) * HOP], "tokens": tokens[0, :, h:h + hops],
                             "gain": gain[0]})
        parts.append([outs["mix"].copy(), outs["frames"].copy()])
    for r, got in zip(ref, zip(*parts)):
        assert np.abs(np.concatenate(got, axis=-1) - r).max() <= 1e-4


def test_control_values_change_the_output(exported) -> None:
    _, path, _ = exported
    session = StreamingSession(path)
    x = {"audio": np.ones((1, 2 * HOP), np.float32), "tokens": np.array([[1, 2]]), "gain": np.array([1.0, 0.0], np.float32)}
    a = session.step(x)["mix"].copy()
    session.reset()
    b = session.step({**x, "gain": np.array([1.0, 0.5], np.float32)})["mix"]
    np.testing.assert_allclose(b - a, 0.5, atol=1e-6)


def test_a_model_peeking_at_the_next_token_is_refused(tmp_path) -> None:
    with pytest.raises(ExportError, match="not causal"):
        export_model(_build(peek=True), CardFields(name="bad", task="test"), tmp_path / "bad.onnx", options=OPTIONS)
    assert list(tmp_path.iterdir()) == []


def test_inputs_of_different_lengths_are_refused_in_torch() -> None:
    model = _build()
    with pytest.raises(ValueError, match="tokens spans 3 hops, the inputs before it 2"):
        model(torch.zeros(1, 1, 2 * HOP), torch.zeros(1, 1, 3, dtype=torch.int64), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="tokens \\(tokens\\) must be int64"):
        model(torch.zeros(1, 1, 2 * HOP), torch.zeros(1, 1, 2), torch.zeros(1, 2))
