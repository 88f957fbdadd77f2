"""Export: every family writes a verified single file whose ONNX equals torch; bad models are refused."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from export import CardFields, ExportError, export_model
from export.onnx_graph import OPSET, io_names
from export.verify import ort_outputs, _session, torch_outputs
from models.frontend import LogMelConfig
from models.nets import FrameModel, FrameModelConfig
from models.streaming import ModelOutput, StreamingModel
from rtmir.card import ModelCard
from rtmir.session import StreamingSession
from tiny_families import FAMILIES, OPTIONS

pytestmark = pytest.mark.torch


def _warm_state(model: StreamingModel, seed: int) -> dict[str, torch.Tensor]:
    """A realistic non-zero state: the state after 5 hops of noise."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        *_, state = model(torch.randn(1, model.channels, 5 * model.hop, generator=g))
    return state


@pytest.mark.parametrize("hops", [1, 2, 5, 40], ids=lambda h: f"{h}hops")
@pytest.mark.parametrize("name", list(FAMILIES))
def test_onnx_equals_torch_from_a_warm_state(exported, name: str, hops: int) -> None:
    model, path = exported(name)
    state = _warm_state(model, seed=hops)
    audio = torch.randn(1, model.channels, hops * model.hop, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        *ref, ref_state = model(audio, state)
    proto = onnx.load(str(path))
    session = _session(proto)
    inputs, outputs = io_names(model)
    got = session.run(outputs, dict(zip(inputs, [audio.numpy(), *(t.numpy() for t in state.values())])))
    for r, g in zip([*ref, *ref_state.values()], got):
        if r.dtype == torch.int64:
            assert np.array_equal(r.numpy(), g)
        else:
            assert np.abs(r.numpy() - g).max() <= 1e-4


@pytest.mark.parametrize("name", list(FAMILIES))
def test_card_round_trips_and_the_runtime_reads_it(exported, name: str) -> None:
    model, path = exported(name)
    card = StreamingSession(path).card
    assert ModelCard.from_json(card.to_json()) == card
    assert (card.name, card.sample_rate, card.hop, card.latency_samples) == (name, model.sample_rate, model.hop, model.latency_samples)
    assert [s.name for s in card.state] == list(model.initial_state(1))
    assert [o.name for o in card.outputs] == [o.name for o in model.outputs]
    assert set(card.training) == {"command", "data", "seed", "git_commit", "date"}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_single_file_with_opset_18(exported, name: str) -> None:
    _, path = exported(name)
    proto = onnx.load(str(path), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= OPSET
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.stem)) == [path.name]


class _CentredConv(StreamingModel):
    """Deliberately wrong: a centred 9-tap conv (4 samples of lookahead) declaring no latency."""

    family = "test"

    def __init__(self, cache_past: bool) -> None:
        super().__init__()
        self.sample_rate, self.channels, self.hop, self.latency_samples = 16000, 1, 8, 0
        self.cache_past = cache_past
        self.conv = nn.Conv1d(1, 1, 9)
        self.outputs = (ModelOutput("y", "audio", 8, (1,)),)

    def initial_state(self, batch: int = 1) -> dict[str, torch.Tensor]:
        return {}

    def forward(self, audio, state=None):
        return self.conv(F.pad(audio, (4, 4))), {}


class _ForgetfulConv(_CentredConv):
    """Deliberately wrong: causal, but pads each chunk with zeros instead of carrying its past."""

    def forward(self, audio, state=None):
        return self.conv(F.pad(audio, (8, 0))), {}


@pytest.mark.parametrize("model, reason", [
    (_CentredConv(False), "not causal"),
    (_ForgetfulConv(False), "torch streaming in blocks of 8 samples vs offline"),
], ids=["lookahead_undeclared", "state_forgotten"])
def test_export_refuses_a_model_that_does_not_stream(tmp_path, model, reason) -> None:
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match=reason):
        export_model(model, CardFields(name="bad", task="test"), out, options=OPTIONS)
    assert list(tmp_path.iterdir()) == []


def test_legacy_exporter_with_rfft_frontend_is_a_clear_error(tmp_path) -> None:
    model = FrameModel(FrameModelConfig(mel=LogMelConfig(n_fft=64, hop_size=16, n_mels=4), body="lstm", width=4))
    with pytest.raises(ExportError, match="LogMelConfig\\(method='conv'\\)"):
        export_model(model, CardFields(name="x", task="test"), tmp_path / "x.onnx", options=OPTIONS)
    assert list(tmp_path.iterdir()) == []


def test_verification_compares_against_torch_offline(exported) -> None:
    model, path = exported("mel_tcn")
    audio = np.random.default_rng(0).standard_normal((1, 1, 10 * model.hop)).astype(np.float32)
    session = _session(onnx.load(str(path)))
    ref = torch_outputs(model, audio)
    assert np.abs(ort_outputs(session, model, audio, 3)[0] - ref[0]).max() <= 1e-4


def test_verification_catches_the_dynamo_lstm_fixed_length_bug(tmp_path) -> None:
    """PLATFORM.md: dynamo bakes the example length into an LSTM; verification must notice."""
    from tiny_families import build

    with pytest.raises(ExportError, match="onnxruntime"):
        export_model(build("mel_lstm"), CardFields(name="x", task="test"), tmp_path / "x.onnx", exporter="dynamo", options=OPTIONS)
    assert list(tmp_path.iterdir()) == []
