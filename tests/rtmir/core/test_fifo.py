"""The allocation-free buffer moves: a FIFO ring equals a plain list of samples; shift_left
moves overlapping and disjoint ranges of multichannel buffers right."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rtmir.core.fifo import Fifo, shift_left


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), min_size=1, max_size=80),
       primed=st.integers(0, 5))
def test_fifo_ring_is_first_in_first_out_with_its_priming(ops, primed):
    f = Fifo(2, 16, primed=primed)
    held = [np.zeros(2, np.float32)] * primed  # the model: a list of columns
    rng = np.random.default_rng(0)
    for push, pop in ops:
        if f.fill + push <= 16:
            x = rng.standard_normal((2, push)).astype(np.float32)
            f.push(x)
            held += list(x.T)
        out = np.full((2, pop), np.nan, np.float32)
        missing = f.pop_into(out)
        got, held = held[:pop], held[pop:]
        assert missing == pop - len(got)
        if got:
            np.testing.assert_array_equal(out[:, :len(got)], np.array(got).T)
        assert np.all(out[:, len(got):] == 0.0)
        assert f.fill == len(held)


def test_shift_left_moves_overlapping_and_disjoint_ranges():
    for start, stop in ((3, 10), (6, 8), (1, 9), (0, 4)):
        buf = np.arange(20, dtype=np.float32).reshape(2, 10)
        want = buf[:, start:stop].copy()
        rest = shift_left(buf, start, stop, np.zeros(10, np.float32))
        assert rest == stop - start
        np.testing.assert_array_equal(buf[:, :rest], want)
