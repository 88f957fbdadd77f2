"""The v2 pitch frontend (models/pitch_spectra.py): decimated bands, streaming = offline, causality,
what the bands resolve, and the v2 model exported through the verified path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.pitch import A0_HZ, BandConfig, PitchTCN, PitchTCNConfig, SpectraConfig, bin_frequencies_hz
from models.pitch_spectra import StreamingSpectra, anti_alias_fir

pytestmark = pytest.mark.torch

BANDS = (BandConfig(1, 256, 1800.0), BandConfig(2, 256, 450.0))
V2_SPECTRA = SpectraConfig(hop=160, short_max_hz=6000.0, long_window=0, joint_floor=True, bands=BANDS)
TINY_V2 = PitchTCNConfig(spectra=V2_SPECTRA, width=16, dilations=(1, 2, 4), n_bins=440, fmin_hz=A0_HZ,
                         front_hidden=24, block_proj=False)


def run(module, x, chunk=None):
    state, parts = None, []
    step = chunk or x.shape[-1]
    with torch.no_grad():
        for i in range(0, x.shape[-1], step):
            out = module(x[..., i:i + step], state)
            state = out[-1]
            parts.append(torch.cat(list(out[:-1]), dim=1))
    return torch.cat(parts, dim=-1)


@pytest.mark.parametrize("chunk_hops", [1, 2, 5, 33], ids=lambda c: f"{c}hops")
def test_bands_stream_like_offline(chunk_hops):
    torch.manual_seed(0)
    model = PitchTCN(TINY_V2).eval()
    x = 0.3 * torch.randn(1, 1, 160 * 120)
    np.testing.assert_allclose(run(model, x, 160 * chunk_hops), run(model, x), atol=1e-5)


def test_nothing_after_the_hop_is_read_and_the_deepest_band_reaches_far_back():
    spectra = StreamingSpectra(V2_SPECTRA)
    x = torch.randn(1, 1, 160 * 60, requires_grad=True)
    feats, _ = spectra(x)
    k = 50
    feats[..., k].sum().backward()
    grad = x.grad[0, 0].abs()
    end = (k + 1) * 160
    assert grad[end:].max() == 0
    # band 2: 256 samples at 1 kHz = 4096 input samples (plus the two FIR stages) before the hop end
    assert grad[:end - 4096].max() > 0 and spectra.latency_samples == 160


def test_a_b0_sine_peaks_in_the_1khz_band_between_its_neighbours():
    spectra = StreamingSpectra(V2_SPECTRA)
    sr = 16000
    t = torch.arange(sr) / sr
    peaks = []
    for hz in (30.87, 32.70, 34.65):  # B0, C1, C#1: 1.8 Hz apart, under the 64 ms band's 15.6 Hz bins
        feats, _ = spectra(torch.sin(2 * np.pi * hz * t)[None, None])
        lo = spectra.n_short + spectra.n_bands[0]
        band2 = feats[0, lo:lo + spectra.n_bands[1], -1]
        peaks.append(float(band2.argmax()) * 1000 / 256)
    assert peaks == sorted(peaks) and peaks[0] < peaks[2]  # B0 < C#1 resolved: bins every 3.9 Hz
    assert abs(peaks[0] - 30.87) < 3.9


def test_the_anti_alias_stage_passes_the_kept_bins_and_stops_what_would_alias():
    h = anti_alias_fir(128)[0, 0].double().numpy()
    f = np.fft.rfftfreq(8192)  # cycles per input sample
    gain_db = 20 * np.log10(np.abs(np.fft.rfft(h, 8192)) + 1e-12)
    assert np.abs(gain_db[f <= 0.1125]).max() < 0.5  # pass band: the kept bins (0.45 of the new rate)
    assert gain_db[f >= 0.1375].max() < -45  # stop band: what would fold onto them


def test_bad_bands_are_refused():
    with pytest.raises(ValueError, match="stages 1, 2"):
        StreamingSpectra(SpectraConfig(hop=160, bands=(BandConfig(2, 256, 450.0),)))
    with pytest.raises(ValueError, match="multiple"):
        StreamingSpectra(SpectraConfig(hop=80, bands=(BandConfig(1, 256, 1800.0), BandConfig(2, 256, 450.0),
                                                       BandConfig(3, 64, 100.0))))
    with pytest.raises(ValueError, match="0.45"):
        StreamingSpectra(SpectraConfig(hop=160, bands=(BandConfig(1, 256, 1900.0),)))


def test_v2_bins_run_from_a0_past_c8():
    f = bin_frequencies_hz(440, A0_HZ)
    assert f[0] == pytest.approx(27.5) and f[-1] > 4186.0 * 2 ** (50 / 1200)


def test_the_v2_model_exports_and_verifies(tmp_path):
    from export import CardFields, export_model
    from rtmir.session import StreamingSession

    card = export_model(PitchTCN(TINY_V2), CardFields(name="pitch-tiny-v2", task="pitch"), tmp_path / "p.onnx")
    assert card.hop == 160 and card.latency_samples == 160 and card.outputs[0].shape == [1, 440, "frames"]
    session = StreamingSession(tmp_path / "p.onnx")
    assert session.card.outputs[0].labels[0] == "27.5000"
    assert {s.name for s in session.card.state} >= {"spectra.cache", "spectra.band1", "spectra.band2"}
