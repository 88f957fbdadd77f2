"""export.compact: the conv frontend's DFT basis is computed at load, not stored, with the same outputs."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from export.compact import compute_dft_bases, windowed_dft_basis

pytestmark = pytest.mark.torch


def test_the_formula_is_the_frontends_own_basis():
    from models.frontend import LogMelConfig, StreamingLogMel

    for n_fft in (256, 1024):
        frontend = StreamingLogMel(LogMelConfig(n_fft=n_fft, hop_size=160, n_mels=16, method="conv"))
        np.testing.assert_allclose(windowed_dft_basis(n_fft), frontend.dft_basis.numpy(), atol=1e-6)


def test_an_exported_conv_tagger_stores_no_basis_and_runs_as_before(tmp_path):
    import onnxruntime as ort
    import torch
    from onnx import numpy_helper

    from export.api import CardFields, export_model
    from models.frontend import LogMelConfig
    from models.nets import FrameModel, FrameModelConfig

    torch.manual_seed(0)
    model = FrameModel(FrameModelConfig(mel=LogMelConfig(n_fft=1024, hop_size=320, n_mels=16, method="conv"),
                                        body="lstm", width=8, num_layers=1, n_outputs=3, labels=["a", "b", "c"]))
    path = tmp_path / "t.onnx"
    export_model(model, CardFields(name="t", task="tags"), path)  # verifies ORT = torch and stream = offline
    proto = onnx.load(str(path))
    assert not any(i.name.endswith("dft_basis") for i in proto.graph.initializer)
    assert path.stat().st_size < 200_000  # the basis alone is 4.2 MB
    stored = onnx.load(str(path))
    compute_dft_bases(stored)  # nothing left to replace
    assert len(stored.graph.node) == len(proto.graph.node)
    # a tensor with the basis's name and shape but other values stays stored
    odd = onnx.ModelProto()
    odd.CopyFrom(proto)
    odd.graph.initializer.append(numpy_helper.from_array(np.zeros((514, 1, 512), np.float32), "x.dft_basis"))
    assert compute_dft_bases(odd) == []
    sess = ort.InferenceSession(str(path))
    assert sess.get_inputs()[0].name == "audio"


def test_the_causal_stfts_sqrt_hann_basis_is_computed_too(tmp_path):
    import torch

    from export.api import CardFields, export_model
    from models.rvq import RVQConfig
    from models.spectral_codec import CodecEncoder, SpectralCodecConfig
    from models.stft import StreamingSTFT

    np.testing.assert_allclose(windowed_dft_basis(320, sqrt=True), StreamingSTFT(320, 160).analysis_basis.numpy(),
                               atol=1e-6)
    torch.manual_seed(0)
    encoder = CodecEncoder(SpectralCodecConfig(width=8, encoder_dilations=(1,),
                                               rvq=RVQConfig(dim=4, n_quantizers=2, codebook_size=16)))
    x = torch.randn(2, 1, 160 * 40) * 0.1
    with torch.no_grad():  # codebooks on the latents, so that codes are not near-ties of random entries
        latent, _ = encoder._encode_frames(x, encoder.fresh(x, None))
        encoder.rvq.kmeans_init(latent, torch.Generator().manual_seed(0))
    path = tmp_path / "enc.onnx"
    export_model(encoder, CardFields(name="enc", task="codec"), path)  # verifies ORT = torch, tokens exact
    proto = onnx.load(str(path))
    assert not any(i.name.endswith("analysis_basis") for i in proto.graph.initializer)
