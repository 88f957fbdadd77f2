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
    """A ``[width, capacity]`` first-in first-out sample buffer, single-threaded, allocation-free.

    Args:
        width: rows (channels).
        capacity: most samples it holds.
        primed: zeros it starts (and resets) with: a fixed delay of that many samples.
        dtype: sample dtype.
    """

    def __init__(self, width: int, capacity: int, primed: int = 0, dtype=np.float32) -> None:
        if primed > capacity:
            raise ValueError(f"a FIFO of {capacity} samples cannot be primed with {primed}")
        self.buf = np.zeros((width, capacity), dtype)
        self._scratch = np.zeros(capacity, dtype)
        self.primed = primed
        self.fill = primed

    def reset(self) -> None:
        """Back to ``primed`` zeros."""
        self.buf.fill(0)
        self.fill = self.primed

    def push(self, x: np.ndarray) -> None:
        """Append ``x [width, m]``.

        Raises:
            OverflowError: more than ``capacity`` samples would be held (a sizing bug).
        """
        m = x.shape[1]
        if self.fill + m > self.buf.shape[1]:
            raise OverflowError(f"FIFO overflow: {self.fill} + {m} > {self.buf.shape[1]}")
        self.buf[:, self.fill:self.fill + m] = x
        self.fill += m

    def pop_into(self, out: np.ndarray) -> int:
        """Move the oldest ``out.shape[1]`` samples into ``out``; missing ones are zeros.

        Returns:
            How many samples were missing (0 when the FIFO held enough: the declared delay held).
        """
        n = out.shape[1]
        take = min(n, self.fill)
        out[:, :take] = self.buf[:, :take]
        if take < n:
            out[:, take:] = 0.0
        self.fill = shift_left(self.buf, take, self.fill, self._scratch)
        return n - take
