"""Allocation-free buffer moves for the engine's hot path.

NumPy copies an assignment between overlapping views through a temporary array, and two column
ranges of one C-ordered ``[C, n]`` array overlap in memory whenever ``C > 1`` (rows interleave).
``shift_left`` moves one row at a time (1-D ranges whose bounds NumPy checks exactly) and goes
through a preallocated scratch row when a range really overlaps its destination::

    buf[c]:  [ consumed ........ | keep (rest) ]       →      [ keep (rest) | free ....... ]
             0                 start          stop            0            rest
"""
from __future__ import annotations

import numpy as np


def shift_left(buf: np.ndarray, start: int, stop: int, scratch: np.ndarray) -> int:
    """Move ``buf[:, start:stop]`` to ``buf[:, :stop - start]``; returns ``stop - start``.

    Args:
        buf: ``[C, capacity]``.
        start, stop: the column range to keep.
        scratch: a 1-D array of ``buf``'s dtype at least ``capacity`` long (used on overlap).

    Real-time safe: no allocation for any ``C``.
    """
    rest = stop - start
    if rest <= 0 or start == 0:
        return max(rest, 0)
    overlap = rest > start
    for c in range(buf.shape[0]):
        row = buf[c]
        if overlap:
            scratch[:rest] = row[start:stop]
            row[:rest] = scratch[:rest]
        else:
            row[:rest] = row[start:stop]
    return rest


class Fifo:
    """A ``[width, capacity]`` first-in first-out sample ring, single-threaded, allocation-free.

    Args:
        width: rows (channels).
        capacity: most samples it holds.
        primed: zeros it starts (and resets) with: a fixed delay of that many samples.
        dtype: sample dtype.

    ``push`` and ``pop_into`` copy at most two column ranges each (where the ring wraps);
    nothing is ever shifted.
    """

    def __init__(self, width: int, capacity: int, primed: int = 0, dtype=np.float32) -> None:
        if primed > capacity:
            raise ValueError(f"a FIFO of {capacity} samples cannot be primed with {primed}")
        self.buf = np.zeros((width, capacity), dtype)
        self.capacity = capacity
        self.primed = primed
        self.reset()

    def reset(self) -> None:
        """Back to ``primed`` zeros."""
        self.buf.fill(0)
        self.read = 0
        self.fill = self.primed

    def push(self, x: np.ndarray) -> None:
        """Append ``x [width, m]``.

        Raises:
            OverflowError: more than ``capacity`` samples would be held (a sizing bug).
        """
        m, cap = x.shape[1], self.capacity
        if self.fill + m > cap:
            raise OverflowError(f"FIFO overflow: {self.fill} + {m} > {cap}")
        w = (self.read + self.fill) % cap
        first = min(m, cap - w)
        self.buf[:, w:w + first] = x[:, :first]
        if first < m:
            self.buf[:, :m - first] = x[:, first:]
        self.fill += m

    def pop_into(self, out: np.ndarray) -> int:
        """Move the oldest ``out.shape[1]`` samples into ``out``; missing ones are zeros.

        Returns:
            How many samples were missing (0 when the FIFO held enough: the declared delay held).
        """
        n, cap, r = out.shape[1], self.capacity, self.read
        take = min(n, self.fill)
        first = min(take, cap - r)
        out[:, :first] = self.buf[:, r:r + first]
        if first < take:
            out[:, first:take] = self.buf[:, :take - first]
        if take < n:
            out[:, take:] = 0.0
        self.read = (r + take) % cap
        self.fill -= take
        return n - take
