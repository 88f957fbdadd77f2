"""The n-gram baseline: a proper distribution over each stage's codes, and it learns what repeats."""
from __future__ import annotations

import numpy as np
import pytest

from training.generate.ngram import KneserNey


def _pieces(seed: int, n: int, frames: int, q: int, v: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, v, (frames, q)) for _ in range(n)]


@pytest.mark.parametrize("order", [1, 2, 4])
def test_every_code_s_probabilities_sum_to_one_over_its_stage(order):
    q, v = 2, 6
    lm = KneserNey(order, q, v).fit(_pieces(0, 5, 30, q, v))
    for seen in (_pieces(0, 1, 30, q, v)[0], _pieces(9, 1, 30, q, v)[0]):  # trained-on and unseen contexts
        for f, stage in [(0, 0), (7, 1), (12, 0), (29, 1)]:
            total = 0.0
            for code in range(v):
                piece = seen.copy()
                piece[f, stage] = code
                total += np.exp(lm.log_prob([piece])[0][f, stage])
            assert total == pytest.approx(1.0, abs=1e-9), (f, stage)


def test_a_loop_it_was_fit_on_becomes_near_certain_and_noise_stays_near_uniform():
    q, v = 3, 16
    loop = np.random.default_rng(1).integers(0, v, (5, q))
    pieces = [np.tile(loop, (20, 1)) for _ in range(4)]
    lm = KneserNey(4, q, v).fit(pieces)
    # past the first frame (where the context is the start symbol), each code follows from the loop
    looped = lm.log_prob([np.tile(loop, (10, 1))])[0][1:]
    assert np.exp(looped).min() > 0.8
    noise = lm.log_prob(_pieces(3, 1, 50, q, v))[0]
    assert -noise.mean() > 0.8 * np.log(v)  # nothing learned about unseen sequences


def test_symbols_that_do_not_fit_its_keys_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        KneserNey(4, 8, 1024)
