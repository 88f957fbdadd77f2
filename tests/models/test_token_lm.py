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
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert names == {"embed", "bias", "body"}  # no separate output projection
    model.bias.normal_()  # (no_grad from the fixture)
    seen = {}

    def keep(_module, _inputs, out):  # returns None: the body's output is left as it is
        seen["h"] = out[0]

    model.body.register_forward_hook(keep)
    steps = _steps(6)
    logits, _ = model(steps)
    h = seen["h"]  # [B, D, T], what the body gave the head
    k = SMALL.codebook_size
    for q in range(SMALL.n_stages):
        expect = torch.einsum("dt,vd->vt", h[0], model.embed[q, :k]) + model.bias[q][:, None]
        assert torch.allclose(logits[0, q], expect, atol=1e-5)


def test_the_default_model_fits_the_zoo_limit_and_rebuilds_from_its_family():
    model = build_model("token_lm", TokenLMConfig())
    assert sum(p.numel() for p in model.parameters()) * 4 <= 5_000_000
    assert model.data_inputs[0].vocab_size == 1025 and model.delay_frames == 3


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The small model (seed 2) and its ONNX file, verified streaming = offline at export."""
    from export.api import CardFields, export_model

    with torch.no_grad():
        model = _model(2)
        options = VerifyOptions(n_hops=30, block_hops=(1, 4, 13), tolerance=1e-4)
        assert max(verify_torch(model, options).values()) <= 1e-4
        path = tmp_path_factory.mktemp("lm") / "lm.onnx"
        card = export_model(model, CardFields(name="lm", task="generate"), path, options=options)
    assert card.inputs[0].kind == "tokens" and card.inputs[0].vocab_size == SMALL.codebook_size + 1
    return model, path


def test_onnx_export_streams_as_torch(exported):
    from rtmir.session import StreamingSession

    model, path = exported
    steps = _steps(25)
    ref, _ = model(steps)
    session = StreamingSession(path)
    outs = [session.step({"tokens": steps[0, :, i:i + 1].numpy()})["logits"].copy() for i in range(steps.shape[2])]
    np.testing.assert_allclose(np.concatenate(outs, -1), ref.numpy(), atol=1e-4)


def _generator(path):
    from rtmir.session import StreamingSession
    from rtmir.tasks.token_generator import TokenGenerator

    return TokenGenerator(StreamingSession(path), SMALL.n_stages, SMALL.codebook_size)


def _take(gen, prompt: np.ndarray, frames: int, prime: bool) -> np.ndarray:
    """Frames ``0 .. len(prompt) + frames - 1`` out of the generator: the prompt (primed in one call,
    or given frame by frame), then sampled frames."""
    gen.reset()
    if prime:
        gen.prime(prompt)
        out = [f for f in prompt]
    else:
        out = [f.copy() for f in (gen.advance(p) for p in prompt) if f is not None]
    while len(out) < len(prompt) + frames:
        f = gen.advance(None)
        if f is not None and gen.step - 1 - gen.delay_frames >= len(out):
            out.append(f.copy())
    return np.array(out)


def test_the_generator_reads_the_prompt_and_samples_what_the_model_would_pick(exported):
    model, path = exported
    gen = _generator(path)
    gen.temperature = 0.0  # greedy: every sampled code must be the model's argmax given the frames before
    prompt = undelay(_steps(9))[0].T.numpy()
    take = _take(gen, prompt, 20, prime=False)
    assert take.shape == (9 + 20, SMALL.n_stages)
    np.testing.assert_array_equal(take[:9], prompt)  # given frames come out as given
    # teacher-force the whole take offline in torch: each generated code is the argmax there
    codes = torch.from_numpy(take.T.copy())[None]
    logits, _ = model(delay_pattern(codes, SMALL.codebook_size)[:, :, :-1])
    steps = delay_pattern(codes, SMALL.codebook_size)
    greedy = logits.argmax(2)  # [1, Q, T]: predicts steps[:, :, 1:]
    n = take.shape[0]
    for q in range(SMALL.n_stages):
        # stage q of frame f is drawn from the logits of step f + q - 1, which read frame f + q - 1's
        # first code: a frame past the take when f + q - 1 >= n (there the teacher-forced input is padding)
        for f in range(9, min(n, n - q + 1)):
            assert int(steps[0, q, f + q]) == int(greedy[0, q, f + q - 1]), (q, f)


def test_a_seed_reproduces_a_take_and_priming_equals_stepping(exported):
    _, path = exported
    gen = _generator(path)
    gen.temperature, gen.top_k, gen.seed = 1.0, 8, 5
    prompt = undelay(_steps(12, seed=3))[0].T.numpy()
    a = _take(gen, prompt, 40, prime=False)
    b = _take(gen, prompt, 40, prime=True)
    np.testing.assert_array_equal(a, b)  # prime: the same cache and draws
    gen.seed = 6
    c = _take(gen, prompt, 40, prime=True)
    assert not np.array_equal(b, c)
    with pytest.raises(ValueError, match="must be given"):
        gen.reset()
        gen.advance(None)


def test_the_evaluation_s_log_probs_are_the_model_s_teacher_forced_log_softmax(exported):
    from rtmir.session import StreamingSession
    from training.generate.evaluate import lm_log_probs

    model, path = exported
    codes = undelay(_steps(30, seed=4))[0].T.numpy()  # [F, Q]
    got = lm_log_probs(StreamingSession(path), codes, SMALL.codebook_size, chunk=7)
    steps = delay_pattern(torch.from_numpy(codes.T.copy())[None], SMALL.codebook_size)
    logp = torch.log_softmax(model(steps[:, :, :-1])[0], 2)[0]  # [Q, V, T-1]: step s predicts step s + 1
    assert np.isnan(got[0, 0]) and not np.isnan(got[1:]).any() and not np.isnan(got[0, 1:]).any()
    for q in range(SMALL.n_stages):
        for f in range(len(codes)):
            if f + q >= 1:
                assert got[f, q] == pytest.approx(float(logp[q, codes[f, q], f + q - 1]), abs=1e-4)
