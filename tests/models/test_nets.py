"""Top-level models: construction, latency bookkeeping, input checks, config errors."""
from __future__ import annotations

import pytest
import torch

from models import FrameModel, FrameModelConfig, StateError, build_model
from models.codec import CodecConfig
from models.conv import TCN, CausalConv1d
from models.frontend import CQTConfig, LogMelConfig
from models.nets import CodecModel
from models.rvq import RVQConfig
from models.transformer import TransformerConfig

pytestmark = pytest.mark.torch

MEL = LogMelConfig(n_fft=128, hop_size=32, n_mels=8)


@pytest.mark.parametrize("body", ["tcn", "lstm", "gru", "transformer"])
@pytest.mark.parametrize("frontend", ["mel", "cqt"])
def test_frame_model_shapes_and_latency(frontend: str, body: str) -> None:
    cqt = CQTConfig(hop_size=32, f_min=220.0, n_bins=6, harmonics=(1.0, 2.0))
    tr = TransformerConfig(d_model=8, n_heads=2, n_layers=1, cache_frames=4)
    model = FrameModel(FrameModelConfig(frontend=frontend, mel=MEL, cqt=cqt, body=body, width=8,
                                        dilations=(1, 2), transformer=tr, n_outputs=5)).eval()
    logits, state = model(torch.randn(2, 1, 32 * 7))
    assert logits.shape == (2, 5, 7)
    expected = MEL.n_fft // 2 if frontend == "mel" else model.net.layers["frontend"].window_samples // 2
    assert model.latency_samples == expected
    assert set(state) == set(model.initial_state(1))


def test_containers_add_latencies() -> None:
    assert TCN(4, 3, (1, 2)).latency_samples == 0
    assert TCN(4, 3, (1, 2, 4)).receptive_field_frames == 1 + 2 * 7


def test_audio_length_must_be_a_multiple_of_hop() -> None:
    model = FrameModel(FrameModelConfig(mel=MEL, width=4, dilations=(1,)))
    with pytest.raises(ValueError, match="multiple of hop 32"):
        model(torch.randn(1, 1, 40))


def test_state_with_wrong_names_is_refused() -> None:
    model = FrameModel(FrameModelConfig(mel=MEL, width=4, dilations=(1,)))
    state = model.initial_state(1)
    state["typo.cache"] = state.pop("frontend.cache")
    with pytest.raises(StateError, match="missing \\['frontend.cache'\\], unused \\['typo.cache'\\]"):
        model(torch.randn(1, 1, 64), state)


def test_codec_hop_is_product_of_strides() -> None:
    model = CodecModel(CodecConfig(width=4, strides=(2, 3, 5), rvq=RVQConfig(dim=4, n_quantizers=2, codebook_size=8)))
    codes, audio, _ = model(torch.randn(1, 1, 60))
    assert model.hop == 30 and codes.shape == (1, 2, 2) and audio.shape == (1, 1, 60)


@pytest.mark.parametrize("bad, match", [
    (dict(body="cnn"), "body must be"), (dict(frontend="stft"), "frontend must be"),
])
def test_bad_config_is_one_clear_error(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FrameModel(FrameModelConfig(mel=MEL, **bad))


def test_conv_that_skips_input_is_refused() -> None:
    with pytest.raises(ValueError, match="span 2 < stride 4"):
        CausalConv1d(1, 1, 2, stride=4)


def test_build_model_checks_family_and_config() -> None:
    with pytest.raises(ValueError, match="unknown model family"):
        build_model("vae", FrameModelConfig())
    with pytest.raises(ValueError, match="needs a CodecConfig"):
        build_model("codec", FrameModelConfig())
