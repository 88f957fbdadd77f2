"""The spectral codec: STFT analysis + overlap-add synthesis reconstruct, the halves equal the
whole, stages left out add nothing, quantizer dropout, streaming = offline and causality for all
three families, bitrates, and exported halves that the runtime streams (tokens bit-exact)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from export.api import CardFields, export_model
from export.verify import VerifyOptions, verify_torch
from models import build_model
from models.rvq import RVQConfig
from models.spectral_codec import (CodecDecoder, CodecEncoder, SpectralCodec, SpectralCodecConfig, stage_kbps,
                                   stages_for_kbps)
from models.stft import StreamingSTFT, overlap_add, synthesis_basis

pytestmark = pytest.mark.torch

SMALL = SpectralCodecConfig(width=16, encoder_dilations=(1, 2), decoder_dilations=(1, 2),
                            rvq=RVQConfig(dim=8, n_quantizers=3, codebook_size=32))
OPTIONS = VerifyOptions(n_hops=48, block_hops=(1, 3, 17), tolerance=1e-4)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _model(seed: int = 0) -> SpectralCodec:
    torch.manual_seed(seed)
    model = SpectralCodec(SMALL)
    x = torch.randn(2, 1, 160 * 40) * 0.1
    latent, _ = model._encode_frames(x, model.fresh(x, None))
    model.rvq.kmeans_init(latent, torch.Generator().manual_seed(0))  # codes that vary
    return model.eval()


@pytest.mark.parametrize("n_fft, hop", [(320, 160), (256, 64)])
def test_stft_then_overlap_add_gives_the_input_w_minus_h_later(n_fft, hop):
    x = torch.randn(1, 1, hop * 50)
    stft = StreamingSTFT(n_fft, hop)
    spec, _ = stft(x)
    y, _ = overlap_add(spec, synthesis_basis(n_fft, hop), hop, torch.zeros(1, 1, n_fft - hop))
    d = n_fft - hop
    np.testing.assert_allclose(y[0, 0, d:].numpy(), x[0, 0, :-d].numpy(), atol=2e-5)


def test_the_halves_give_what_the_whole_gives():
    model = _model()
    x = torch.randn(1, 1, 160 * 30) * 0.1
    tokens, audio, _ = model(x)
    enc, dec = model.part("encoder"), model.part("decoder")
    t2, _ = enc(x)
    a2, _ = dec(t2)
    assert torch.equal(t2, tokens)
    torch.testing.assert_close(a2, audio)
    assert isinstance(enc, CodecEncoder) and isinstance(dec, CodecDecoder)
    with pytest.raises(ValueError, match="encoder"):
        model.part("middle")


def test_a_stage_left_out_adds_nothing():
    model = _model()
    x = torch.randn(1, 1, 160 * 20) * 0.1
    tokens, _ = model.encode(x)
    left_out = tokens.clone()
    left_out[:, 2:] = SMALL.rvq.codebook_size
    expected = model.rvq.stages[0].lookup(tokens[:, 0]) + model.rvq.stages[1].lookup(tokens[:, 1])
    torch.testing.assert_close(model.rvq.decode(left_out), expected.transpose(1, 2))


def test_quantizer_dropout_feeds_the_first_stages_only():
    model = _model()
    x = torch.randn(2, 1, 160 * 20) * 0.1
    latent, _ = model._encode_frames(x, model.fresh(x, None))
    one = model.rvq(latent, torch.tensor([1, 3]))
    tokens = model.rvq.encode(latent)
    first = model.rvq.stages[0].lookup(tokens[0, 0]).t()
    torch.testing.assert_close(one.quantized[0], first, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(one.quantized[1], model.rvq.decode(tokens)[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", ["spectral_codec", "codec_encoder", "codec_decoder"])
def test_streaming_equals_offline_and_causal(family):
    whole = _model(1)
    model = whole if family == "spectral_codec" else whole.part(family.split("_")[1])
    assert build_model(family, SMALL).family == family
    report = verify_torch(model, OPTIONS)
    assert report and max(report.values()) <= 1e-4


def test_the_declared_latency_is_the_overlap():
    model = _model()
    assert model.latency_samples == model.part("decoder").latency_samples == 160
    assert model.part("encoder").latency_samples == 0


def test_bitrates():
    c = SpectralCodecConfig()
    assert stage_kbps(c) == pytest.approx(1.5)
    assert [stages_for_kbps(c, k) for k in (1.5, 3, 6)] == [1, 2, 4]
    for bad in (1.0, 4.0, 7.5, float("nan")):
        with pytest.raises(ValueError, match="not a bitrate"):
            stages_for_kbps(c, bad)


def test_a_window_that_is_not_two_hops_is_refused():
    with pytest.raises(ValueError, match="2 hops"):
        SpectralCodec(SpectralCodecConfig(n_fft=640, hop_size=160))


def test_exported_halves_stream_in_the_runtime(tmp_path):
    from rtmir.session import StreamingSession

    model = _model(2)
    paths = {}
    for part in ("encoder", "decoder"):
        paths[part] = tmp_path / f"c-{part[:3]}.onnx"
        card = export_model(model.part(part), CardFields(name=f"c-{part[:3]}", task="codec"), paths[part], options=OPTIONS)
    assert card.inputs[0].kind == "tokens" and card.inputs[0].vocab_size == SMALL.rvq.codebook_size + 1
    x = np.random.default_rng(3).standard_normal((1, 160 * 30)).astype(np.float32) * 0.1
    ref_tokens, ref_audio, _ = model(torch.from_numpy(x)[None])
    enc, dec = StreamingSession(paths["encoder"]), StreamingSession(paths["decoder"])
    tokens, audio = [], []
    for i in range(0, x.shape[1], 160 * 7):
        t = enc.process(x[:, i:i + 160 * 7])["tokens"][0].copy()
        tokens.append(t)
        audio.append(dec.step({"tokens": t})["audio"][0].copy())
    assert np.array_equal(np.concatenate(tokens, axis=-1), ref_tokens[0].numpy())
    np.testing.assert_allclose(np.concatenate(audio, axis=-1), ref_audio[0].numpy(), atol=1e-4)
