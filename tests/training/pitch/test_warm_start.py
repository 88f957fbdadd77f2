"""Growing a trained pitch model (training/pitch/warm_start.py): same outputs at step 0, and the
new channels can learn."""
from __future__ import annotations

import pytest

import torch  # the train extra; these tests are marked torch

pytestmark = pytest.mark.torch

from models.pitch import PitchTCN, PitchTCNConfig, SpectraConfig  # noqa: E402
from training.pitch.warm_start import check_same, grow_into  # noqa: E402

SPECTRA = SpectraConfig(long_window=1024)
SMALL = PitchTCNConfig(spectra=SPECTRA, width=16, dilations=(1, 2, 4))
LARGE = PitchTCNConfig(spectra=SPECTRA, width=24, dilations=(1, 2, 4), front_hidden=32)


def trained_small() -> PitchTCN:
    torch.manual_seed(0)
    model = PitchTCN(SMALL)
    with torch.no_grad():  # make every weight matter: no zero-initialised layer left
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_the_grown_model_computes_what_the_small_one_did():
    small = trained_small()
    torch.manual_seed(1)
    large = PitchTCN(LARGE)
    grown = grow_into(large, small)
    assert "front.module.weight" in grown and "tcn.layers.0.conv.conv.weight" in grown
    assert check_same(large, small) < 1e-5
    x = 0.2 * torch.randn(1, 1, 80 * 60)
    with torch.no_grad():
        torch.testing.assert_close(large.logits(x)[0], small.logits(x)[0], atol=1e-5, rtol=0)


def test_every_grown_parameter_gets_a_gradient():
    small = trained_small()
    large = PitchTCN(LARGE)
    grow_into(large, small)
    x = 0.2 * torch.randn(2, 1, 80 * 60)
    logits, _ = large.logits(x)
    logits.square().mean().backward()
    # the new stream channels (rows 16..23 of the projection) and the MLP branch can move
    assert large.proj.module.weight.grad[16:].abs().sum() > 0
    assert large.front_out.module.weight.grad.abs().sum() > 0
    assert large.tcn.layers["1"].proj.weight.grad[16:].abs().sum() > 0


def test_growing_refuses_to_shrink_or_change_the_frontend():
    small = trained_small()
    with pytest.raises(ValueError, match="cannot grow"):
        grow_into(PitchTCN(PitchTCNConfig(spectra=SPECTRA, width=8, dilations=(1, 2, 4))), small)
    with pytest.raises(ValueError, match="frontends differ"):
        grow_into(PitchTCN(PitchTCNConfig(spectra=SpectraConfig(long_window=2048), width=16, dilations=(1, 2, 4))), small)
