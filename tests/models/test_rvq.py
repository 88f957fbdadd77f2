"""Residual VQ: k-means init, EMA learning, dead-code restart, commitment loss, encode/decode."""
from __future__ import annotations

import pytest
import torch

from models.rvq import ResidualVectorQuantizer, RVQConfig, kmeans

pytestmark = pytest.mark.torch


def _data(seed: int = 0) -> torch.Tensor:
    """[4, 8, 64] latent frames drawn around 12 cluster centres."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(12, 8, generator=g)
    pick = torch.randint(0, 12, (4 * 64,), generator=g)
    x = centres[pick] + 0.1 * torch.randn(4 * 64, 8, generator=g)
    return x.reshape(4, 64, 8).transpose(1, 2)


def _error(rvq: ResidualVectorQuantizer, x: torch.Tensor) -> float:
    return float((rvq.decode(rvq.encode(x)) - x).square().mean())


def test_kmeans_finds_the_clusters() -> None:
    x = _data().transpose(1, 2).reshape(-1, 8)
    c = kmeans(x, 12, 20, torch.Generator().manual_seed(0))
    assert float(torch.cdist(x, c).min(dim=1).values.square().mean()) < 2.0


def test_kmeans_init_beats_random_codebooks() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=3, codebook_size=16))
    x = _data()
    before = _error(rvq, x)
    rvq.kmeans_init(x, torch.Generator().manual_seed(0))
    assert _error(rvq, x) < 0.2 * before


def test_more_stages_reduce_error() -> None:
    torch.manual_seed(0)
    x = _data()
    errors = []
    for n_q in (1, 2, 4):
        rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=n_q, codebook_size=16))
        rvq.kmeans_init(x, torch.Generator().manual_seed(0))
        errors.append(_error(rvq, x))
    assert errors[0] > errors[1] > errors[2]


def test_ema_updates_move_codebooks_towards_data() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=2, codebook_size=16, decay=0.8))
    x = _data()
    before = _error(rvq, x)
    for _ in range(30):
        rvq.ema_update(rvq(x), torch.Generator().manual_seed(1))
    assert _error(rvq, x) < 0.5 * before


def test_dead_codes_are_restarted_on_data() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=1, codebook_size=64, decay=0.5, dead_threshold=0.5))
    x = _data()
    rvq.stages[0].set_codebook(torch.full((64, 8), 100.0))  # every code far away: only one gets used
    restarted = sum(rvq.ema_update(rvq(x)) for _ in range(3))
    assert restarted > 0
    assert float(rvq.stages[0].codebook.abs().max()) < 100.0


def test_commitment_loss_and_straight_through_gradient() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=2, codebook_size=16))
    x = _data().requires_grad_(True)
    result = rvq(x)
    assert float(result.commitment_loss.detach()) > 0
    (result.quantized.sum() + result.commitment_loss).backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad))
    assert all(p.grad is None for p in rvq.buffers())


def test_forward_codes_match_encode_and_decode() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(RVQConfig(dim=8, n_quantizers=3, codebook_size=16))
    x = _data()
    result = rvq(x)
    codes = rvq.encode(x)
    assert codes.dtype == torch.int64 and codes.shape == (4, 3, 64)
    assert torch.equal(result.codes, codes)
    assert torch.allclose(result.quantized, rvq.decode(codes), atol=1e-5)
