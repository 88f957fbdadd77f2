"""The token LM: the delay pattern and its inverse, causality, streaming = offline past the cache,
the tied embeddings, the shipped size, and an exported graph the runtime steps as torch does."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from export.verify import VerifyOptions, verify_torch
from models import build_model
from models.token_lm import TokenLM, TokenLMConfig, delay_pattern, undelay
from models.transformer import TransformerConfig

pytestmark = pytest.mark.torch

SMALL = TokenLMConfig(n_stages=3, codebook_size=16, transformer=TransformerConfig(
    input_size=16, d_model=16, n_heads=2, n_layers=2, ff_mult=2, cache_frames=12))


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _model(seed: int = 0) -> TokenLM:
    torch.manual_seed(seed)
    return TokenLM(SMALL).eval()


def _steps(frames: int, seed: int = 1) -> torch.Tensor:
    codes = torch.randint(0, SMALL.codebook_size, (1, SMALL.n_stages, frames), generator=torch.Generator().manual_seed(seed))
    return delay_pattern(codes, SMALL.codebook_size)


def test_the_delay_pattern_shifts_stage_q_by_q_frames_and_undelay_inverts_it():
    codes = torch.arange(12).reshape(1, 3, 4)
    steps = delay_pattern(codes, 99)
    assert steps[0].tolist() == [[0, 1, 2, 3, 99, 99], [99, 4, 5, 6, 7, 99], [99, 99, 8, 9, 10, 11]]
    assert torch.equal(undelay(steps), codes)


def test_a_step_never_sees_a_later_step():
    model = _model()
    steps = _steps(30)
    ref, _ = model(steps)
    changed = steps.clone()
    changed[:, :, 20] = (changed[:, :, 20] + 1) % SMALL.codebook_size
    out, _ = model(changed)
    torch.testing.assert_close(out[..., :20], ref[..., :20])
    assert not torch.allclose(out[..., 20], ref[..., 20])


@pytest.mark.parametrize("chunk", [1, 5, 40])
def test_streaming_equals_offline_past_the_cache(chunk):
    model = _model()
    steps = _steps(40)  # 42 steps, more than three caches of 12
    ref, _ = model(steps)
    state, outs = None, []
    for i in range(0, steps.shape[2], chunk):
        y, state = model(steps[:, :, i:i + chunk], state)
        outs.append(y)
    assert (torch.cat(outs, -1) - ref).abs().max() <= 1e-4


def test_the_output_head_is_the_input_embedding():
    model = _model()
    h = torch.zeros(1, SMALL.transformer.d_model, 1)
    h[0, 3, 0] = 1.0
    logits = torch.einsum("bdt,qvd->bqvt", h, model.embed[:, :SMALL.codebook_size]) + model.bias[None, :, :, None]
    assert torch.equal(logits[0, 1, :, 0], model.embed[1, :SMALL.codebook_size, 3] + model.bias[1])


def test_the_default_model_fits_the_zoo_limit_and_rebuilds_from_its_family():
    model = build_model("token_lm", TokenLMConfig())
    assert sum(p.numel() for p in model.parameters()) * 4 <= 5_000_000
    assert model.data_inputs[0].vocab_size == 1025 and model.delay_frames == 3


def test_onnx_export_streams_as_torch(tmp_path):
    from export.api import CardFields, export_model
    from rtmir.session import StreamingSession

    model = _model(2)
    options = VerifyOptions(n_hops=30, block_hops=(1, 4, 13), tolerance=1e-4)
    assert max(verify_torch(model, options).values()) <= 1e-4
    path = tmp_path / "lm.onnx"
    card = export_model(model, CardFields(name="lm", task="generate"), path, options=options)
    assert card.inputs[0].kind == "tokens" and card.inputs[0].vocab_size == SMALL.codebook_size + 1
    steps = _steps(25)
    ref, _ = model(steps)
    session = StreamingSession(path)
    outs = [session.step({"tokens": steps[0, :, i:i + 1].numpy()})["logits"].copy() for i in range(steps.shape[2])]
    np.testing.assert_allclose(np.concatenate(outs, -1), ref.numpy(), atol=1e-4)
