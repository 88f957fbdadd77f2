"""The generator's sampling: a counter-based RNG (a pure function of seed and step), temperature,
top-k and top-p that keep exactly the codes they promise, and draws that follow the distribution."""
from __future__ import annotations

import numpy as np

from rtmir.tasks.sampler import sample, uniforms


def test_draws_are_a_function_of_seed_and_step_only():
    a = uniforms(7, 123, 4)
    assert np.array_equal(a, uniforms(7, 123, 4))
    assert np.array_equal(a[:2], uniforms(7, 123, 2))  # draw i does not depend on how many
    assert not np.array_equal(a, uniforms(7, 124, 4)) and not np.array_equal(a, uniforms(8, 123, 4))
    many = np.concatenate([uniforms(1, s, 4) for s in range(5000)])
    assert 0 <= many.min() and many.max() < 1
    assert abs(many.mean() - 0.5) < 0.01 and abs(many.var() - 1 / 12) < 0.005
    hist = np.histogram(many, bins=10, range=(0, 1))[0]
    assert hist.min() > 0.9 * len(many) / 10


def test_temperature_zero_is_the_argmax_and_ties_go_to_the_lower_code():
    logits = np.array([[0.0, 3.0, 1.0, 3.0], [5.0, 0.0, 0.0, 0.0]], np.float32)
    assert sample(logits, 0.0, 0, 1.0, 0, 0).tolist() == [1, 0]
    # a tiny temperature is the argmax too (the draw lands in the top code's mass)
    assert sample(logits, 1e-3, 0, 1.0, 0, 5).tolist() in ([1, 0], [3, 0])


def test_top_k_and_top_p_keep_only_the_most_likely_codes():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 64)).astype(np.float32)
    ranks = np.argsort(-logits, axis=1)
    top5 = [set(r[:5].tolist()) for r in ranks]
    for step in range(300):
        codes = sample(logits, 1.0, 5, 1.0, 3, step)
        assert all(int(c) in top5[q] for q, c in enumerate(codes))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for q in range(3):
        cum = np.cumsum(p[q, ranks[q]])
        n_keep = int(np.searchsorted(cum, 0.5) + 1)  # smallest prefix whose mass reaches 0.5
        kept = set(ranks[q, :n_keep].tolist())
        seen = {int(sample(logits, 1.0, 0, 0.5, 1, s)[q]) for s in range(400)}
        assert seen <= kept and len(seen) == len(kept)


def test_draws_follow_the_softmax_at_the_temperature():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], np.float64))
    n = 20000
    counts = np.bincount([int(sample(logits, 1.0, 0, 1.0, 11, s)[0]) for s in range(n)], minlength=4) / n
    assert np.abs(counts - [0.5, 0.3, 0.15, 0.05]).max() < 0.015
    hot = np.bincount([int(sample(logits, 2.0, 0, 1.0, 11, s)[0]) for s in range(n)], minlength=4) / n
    expect = np.sqrt([0.5, 0.3, 0.15, 0.05])
    assert np.abs(hot - expect / expect.sum()).max() < 0.015
