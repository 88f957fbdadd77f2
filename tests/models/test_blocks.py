"""Contract 1 for every block family: streaming = offline, causal, reset, fixed state, pure."""
from __future__ import annotations

import pytest
import torch

from block_cases import CASES, build, call, make_input, max_diff, stream

pytestmark = pytest.mark.torch

N_STEPS = 30
CHUNKS = {"one_hop": 1, "odd_3": 3, "odd_7": 7, "large_25": 25, "whole": N_STEPS}


@pytest.mark.parametrize("chunk_steps", list(CHUNKS.values()), ids=list(CHUNKS))
@pytest.mark.parametrize("name", list(CASES))
def test_streaming_equals_offline(name: str, chunk_steps: int) -> None:
    module, x = build(name), make_input(name, N_STEPS)
    offline, _ = call(module, x)
    streamed, _ = stream(module, x, chunk_steps * CASES[name].step)
    assert [o.shape for o in streamed] == [o.shape for o in offline]
    assert max_diff(offline, streamed) <= 1e-4


@pytest.mark.parametrize("name", list(CASES))
def test_future_does_not_change_the_past(name: str) -> None:
    module, x = build(name), make_input(name, N_STEPS)
    k = N_STEPS // 2
    changed = x.clone()
    changed[:, :, k * CASES[name].step:] = make_input(name, N_STEPS - k, seed=9) * 3
    a, _ = call(module, x)
    b, _ = call(module, changed)
    for ya, yb in zip(a, b):
        per_step = ya.shape[-1] // N_STEPS
        assert torch.equal(ya[..., :k * per_step], yb[..., :k * per_step])
        assert not torch.equal(ya[..., k * per_step:], yb[..., k * per_step:]) or ya.dtype == torch.int64


@pytest.mark.parametrize("name", list(CASES))
def test_fresh_state_restores_start_and_skipping_reset_differs(name: str) -> None:
    module = build(name)
    head, other = make_input(name, 6, seed=1), make_input(name, 9, seed=2)
    first, _ = call(module, head)
    _, carried_state = call(module, other)
    carried, _ = call(module, head, carried_state)
    again, _ = call(module, head, module.initial_state(1))
    assert max_diff(first, again) == 0.0
    assert max_diff(first, carried) > 1e-6


@pytest.mark.parametrize("name", list(CASES))
def test_state_has_fixed_shapes_and_dotted_names(name: str) -> None:
    module = build(name)
    init = module.initial_state(1)
    for n_steps in (1, 4):
        _, new_state = call(module, make_input(name, n_steps))
        assert list(new_state) == list(init)
        assert all(new_state[k].shape == init[k].shape for k in init)
    assert all(k and " " not in k and not k.startswith(".") for k in init)
    assert all(t.shape[1 if k.endswith((".h", ".c")) or k in ("h", "c") else 0] == 3
               for k, t in module.initial_state(3).items())


@pytest.mark.parametrize("name", list(CASES))
def test_forward_writes_no_buffer(name: str) -> None:
    module = build(name)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    stream(module, make_input(name, 8), 3 * CASES[name].step)
    after = module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name", ["causal_conv", "tcn", "lstm", "transformer"])
def test_gradient_never_reaches_the_future(name: str) -> None:
    module = build(name)
    x = make_input(name, N_STEPS).requires_grad_(True)
    (y,), _ = module(x)
    k = N_STEPS // 2
    # a fixed random projection of frame k: a plain sum would be constant after a LayerNorm
    # (zero gradient by construction, passing or failing by rounding; PLATFORM.md)
    weights = torch.randn(y[..., k].shape, generator=torch.Generator().manual_seed(4))
    (y[..., k] * weights).sum().backward()
    assert torch.all(x.grad[..., k + 1:] == 0)
    assert torch.any(x.grad[..., :k + 1] != 0)
