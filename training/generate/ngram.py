"""The generator's baseline: an interpolated Kneser–Ney n-gram model over the codec's tokens.

A piece's codes ``[frames, stages]`` are read frame by frame, stage by stage (``f0q0 f0q1 ... f0qQ-1
f1q0 ...``), each code a symbol of its own stage (``q * V + code``), after ``order - 1`` start
symbols. The model predicts each code from the ``order - 1`` symbols before it, so a fine stage
sees its frame's coarser codes and the first stage sees the frame before: the same codes the token
LM's delay pattern lets it see, minus its longer memory. Probabilities are normalised over the
``V`` codes of the stage being predicted (the context's last symbol fixes the stage); the lowest
order is interpolated with the uniform ``1 / V``.

    P_n(w | h) = max(c_n(h w) - D_n, 0) / c_n(h) + D_n T_n(h) / c_n(h) * P_{n-1}(w | h')

``c_n`` are counts at the top order and continuation counts (distinct left contexts) below it,
``T_n(h)`` the number of distinct ``w`` after ``h``, ``D_n = n_1 / (n_1 + 2 n_2)`` (Ney's estimate
from the counts-of-counts). Pure numpy: n-grams are packed into int64 keys and looked up by
``searchsorted``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BITS = 13  # symbols < 8192: Q * V + 1 start symbol for Q = 4, V = 1024 (checked at fit time)


def symbols(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """``codes [frames, Q]`` as the frame-major symbol stream ``[frames * Q]`` int64 (``q * V + code``)."""
    q = codes.shape[1]
    return (codes.astype(np.int64) + codebook_size * np.arange(q)[None]).reshape(-1)


def _pack(cols: list[np.ndarray]) -> np.ndarray:
    key = np.zeros(len(cols[0]) if cols else 0, np.int64)
    for c in cols:
        key = (key << _BITS) | c
    return key


@dataclass
class _Order:
    """One order's table: packed ``(h, w)`` keys (sorted) with their counts, and per context ``h``
    (sorted packed keys) the count total and the number of distinct ``w``."""

    hw: np.ndarray
    c_hw: np.ndarray
    h: np.ndarray
    c_h: np.ndarray
    t_h: np.ndarray
    discount: float


def _lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` at ``keys`` in the sorted ``table`` (0 where a key is absent)."""
    if not len(table):
        return np.zeros(len(keys), values.dtype)
    i = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return np.where(table[i] == keys, values[i], 0)


def _order_table(keys: np.ndarray, counts: np.ndarray, context_of) -> _Order:
    h = context_of(keys)
    order = np.argsort(h, kind="stable")
    h_sorted = h[order]
    h_keys, first = np.unique(h_sorted, return_index=True)
    c_h = np.add.reduceat(counts[order], first) if len(first) else counts[:0]
    t_h = np.diff(np.append(first, len(h)))
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return _Order(keys, counts, h_keys, c_h, t_h, n1 / (n1 + 2 * n2) if n1 + n2 else 0.5)


class KneserNey:
    """An interpolated Kneser–Ney model of ``order`` over the symbol streams of token pieces.

    Args:
        order: n (4: predict each code from the 3 symbols before it).
        stages, codebook_size: Q and V of the codes.
    """

    def __init__(self, order: int, stages: int, codebook_size: int) -> None:
        if stages * codebook_size + 1 > 1 << _BITS or order * _BITS > 62:
            raise ValueError(f"{stages} x {codebook_size} symbols of order {order} do not fit the keys")
        self.order, self.stages, self.vocab = order, stages, codebook_size
        self.start = stages * codebook_size
        self.orders: list[_Order] = []  # index m - 1 holds order m

    def _streams(self, pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The pieces' symbol streams, each after ``order - 1`` start symbols, concatenated, and the
        positions of the codes (those predicted)."""
        pad = np.full(self.order - 1, self.start, np.int64)
        parts = [x for codes in pieces for x in (pad, symbols(codes, self.vocab))]
        masks = [np.arange(len(x)) < 0 if i % 2 == 0 else np.ones(len(x), bool) for i, x in enumerate(parts)]
        return np.concatenate(parts), np.flatnonzero(np.concatenate(masks))

    def _grams(self, stream: np.ndarray, pos: np.ndarray, m: int) -> np.ndarray:
        """Packed m-grams ending at ``pos`` (oldest symbol in the high bits)."""
        return _pack([stream[pos - k] for k in range(m - 1, -1, -1)])

    def _context_of(self, m: int):
        """The context key of packed m-grams: the m - 1 symbols before ``w``; for unigrams, ``w``'s stage."""
        return (lambda k: k // self.vocab) if m == 1 else (lambda k: k >> _BITS)

    def fit(self, pieces: list[np.ndarray]) -> "KneserNey":
        """Count the n-grams of ``pieces`` (each ``[frames, Q]`` codes ``0 .. V-1``); returns self."""
        stream, pos = self._streams(pieces)
        keys, counts = np.unique(self._grams(stream, pos, self.order), return_counts=True)
        tables = [_order_table(keys, counts, self._context_of(self.order))]
        for m in range(self.order - 1, 0, -1):
            # continuation counts: how many distinct symbols precede each m-gram
            keys, counts = np.unique(keys & ((1 << (_BITS * m)) - 1), return_counts=True)
            tables.insert(0, _order_table(keys, counts, self._context_of(m)))
        self.orders = tables
        return self

    def log_prob(self, pieces: list[np.ndarray]) -> list[np.ndarray]:
        """Natural-log probability ``[frames, Q]`` of every code of each piece (each from its own start)."""
        out = []
        for codes in pieces:
            stream, pos = self._streams([codes])
            p = np.full(len(pos), 1.0 / self.vocab)
            for m, o in enumerate(self.orders, start=1):
                hw = self._grams(stream, pos, m)
                h = self._context_of(m)(hw)
                c_hw = _lookup(hw, o.hw, o.c_hw)
                c_h, t_h = _lookup(h, o.h, o.c_h), _lookup(h, o.h, o.t_h)
                safe = np.maximum(c_h, 1)
                mixed = np.maximum(c_hw - o.discount, 0) / safe + o.discount * t_h / safe * p
                p = np.where(c_h > 0, mixed, p)
            out.append(np.log(p).reshape(codes.shape))
        return out
