"""A shipped file seeds the next training stage: family, config and weights come back from it."""
from __future__ import annotations

import json

import onnx
import pytest
import torch

from export import CardFields, export_model
from export.checkpoint import CONFIG_KEY, CheckpointError, load_checkpoint, training_info
from models.pitch import PitchTCN, PitchTCNConfig
from models.pitch_spectra import BandConfig, SpectraConfig
from tiny_families import OPTIONS, export_family

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def tiny_pitch(tmp_path_factory):
    torch.manual_seed(0)
    config = PitchTCNConfig(spectra=SpectraConfig(hop=160, long_window=0, bands=(BandConfig(1, 64, 1800.0),), fir_taps=32),
                            width=16, dilations=(1, 2), n_bins=60, front_hidden=16, block_proj=False)
    model = PitchTCN(config).eval()
    path = tmp_path_factory.mktemp("from-onnx") / "p.onnx"
    stages = [{"command": "stage 1", "train_minutes": 60.0}, {"command": "stage 2", "train_minutes": 25.0}]
    export_model(model, CardFields(name="p", task="pitch", training={"command": "stage 2", "stages": stages}), path,
                 options=OPTIONS)
    return model, path


def test_the_exported_model_comes_back_with_its_config_and_weights(tiny_pitch):
    model, path = tiny_pitch
    back = load_checkpoint(path)
    assert isinstance(back, PitchTCN) and back.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert torch.equal(a, b), k


def test_a_shipped_files_stages_are_the_start_of_the_next_runs(tiny_pitch, tmp_path):
    from training.core.ship import training_stages

    _, path = tiny_pitch
    assert training_info(path)["command"] == "stage 2"
    assert [s["command"] for s in training_stages(str(path))] == ["stage 1", "stage 2"]


def test_files_without_a_config_or_with_repacked_weights_are_refused(tiny_pitch, tmp_path):
    _, path = tiny_pitch
    proto = onnx.load(str(path))
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != CONFIG_KEY]
    del proto.metadata_props[:]
    for k, v in kept:
        e = proto.metadata_props.add()
        e.key, e.value = k, v
    onnx.save_model(proto, str(tmp_path / "old.onnx"))
    with pytest.raises(CheckpointError, match="holds no model config"):
        load_checkpoint(tmp_path / "old.onnx")
    _, lstm = export_family("mel_lstm", tmp_path)  # the legacy exporter packs an LSTM's gates its own way
    with pytest.raises(CheckpointError, match="repacked"):
        load_checkpoint(lstm)
    assert json.loads({p.key: p.value for p in onnx.load(str(lstm)).metadata_props}[CONFIG_KEY])["body"] == "lstm"
