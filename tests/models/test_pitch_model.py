"""PitchTCN (models/pitch.py): causal, streaming = offline at odd chunk sizes, latency, export."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.pitch import F_MIN_HZ, PitchTCN, PitchTCNConfig, SpectraConfig, bin_frequencies_hz

pytestmark = pytest.mark.torch

TINY = PitchTCNConfig(spectra=SpectraConfig(long_window=1024), width=16, dilations=(1, 2, 4))
TINY_FRONT = PitchTCNConfig(spectra=SpectraConfig(long_window=1024), width=16, dilations=(1, 2, 4), front_hidden=24)


def outputs(model, x, chunk=None):
    state, parts = None, []
    step = chunk or x.shape[-1]
    with torch.no_grad():
        for i in range(0, x.shape[-1], step):
            sal, voi, state = model(x[..., i:i + step], state)
            parts.append(torch.cat([sal, voi], dim=1))
    return torch.cat(parts, dim=-1)


def test_bins_are_20_cents_from_c1():
    f = bin_frequencies_hz(420)
    assert f[0] == pytest.approx(F_MIN_HZ) and f[415] == pytest.approx(3951.07, rel=1e-4)  # B7
    np.testing.assert_allclose(1200 * np.diff(np.log2(f)), 20.0)


def test_latency_is_half_the_newest_frame_and_the_long_window_adds_none():
    model = PitchTCN(TINY)
    assert model.latency_samples == 160 and model.hop == 80 and model.sample_rate == 16000
    assert PitchTCN(PitchTCNConfig()).receptive_field_frames * 80 / 16000 >= 0.3


@pytest.mark.parametrize("config", [TINY, TINY_FRONT], ids=["linear-front", "mlp-front"])
@pytest.mark.parametrize("chunk_hops", [1, 3, 7, 64], ids=lambda c: f"{c}hops")
def test_streaming_equals_offline(chunk_hops, config):
    torch.manual_seed(0)
    model = PitchTCN(config).eval()
    x = 0.3 * torch.randn(1, 1, 80 * 150)
    np.testing.assert_allclose(outputs(model, x, 80 * chunk_hops), outputs(model, x), atol=1e-5)


@pytest.mark.parametrize("config", [TINY, TINY_FRONT], ids=["linear-front", "mlp-front"])
def test_no_output_depends_on_audio_after_its_hop(config):
    torch.manual_seed(0)
    model = PitchTCN(config).eval()
    x = torch.randn(1, 1, 80 * 40, requires_grad=True)
    sal, voi, _ = model(x)
    k = 20
    (sal[..., k].sum() + voi[..., k].sum()).backward()
    grad = x.grad[0, 0].abs()
    assert grad[(k + 1) * 80:].max() == 0  # nothing after the end of hop k
    assert grad[(k + 1) * 80 - 1024:(k + 1) * 80].max() > 0  # the long window reaches 1024 back


def test_logits_match_the_probabilities():
    model = PitchTCN(TINY).eval()
    x = torch.randn(2, 1, 800)
    with torch.no_grad():
        logits, _ = model.logits(x)
        sal, voi, _ = model(x)
    torch.testing.assert_close(torch.sigmoid(logits), torch.cat([sal, voi], dim=1))


def test_a_tiny_model_exports_and_verifies(tmp_path):
    from export import CardFields, export_model
    from rtmir.session import StreamingSession

    card = export_model(PitchTCN(TINY_FRONT), CardFields(name="pitch-tiny", task="pitch"), tmp_path / "p.onnx")
    assert card.latency_samples == 160 and card.outputs[0].shape == [1, 420, "frames"]
    assert StreamingSession(tmp_path / "p.onnx").card.outputs[0].labels[0] == "32.7032"
