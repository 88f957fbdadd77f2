"""The pitch decoder's per-frame kernel, compiled with numba: one call decodes every frame of a chunk.

For each frame ``t`` of ``salience [n_bins, T]``: the peak among bins ``lo..hi`` (the search range;
the first maximum wins), the salience-weighted mean in cents of the bins within ``radius`` of it
(the window narrowed symmetrically at the ends of the grid, so it cannot pull inwards), and the
frame's peak over all bins (what the in-range peak is compared with). One call on one frame of
440 bins costs ~2 us here (the processor's whole decode ~12 us; the numpy version it replaced ~52 us).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def decode_frames(salience, bin_cents, radius, lo, hi, cents, peak, overall):
    """Fill ``cents [T]`` (NaN: no salience in the window), ``peak [T]`` (the in-range peak) and
    ``overall [T]`` (the peak over all bins). ``lo > hi`` is an empty range: every frame NaN, 0."""
    n_bins, frames = salience.shape
    for t in range(frames):
        top = 0.0
        for i in range(n_bins):
            v = salience[i, t]
            if v > top:
                top = v
        overall[t] = top
        if lo > hi:
            cents[t] = np.nan
            peak[t] = 0.0
            continue
        best, arg = salience[lo, t], lo
        for i in range(lo + 1, hi + 1):
            if salience[i, t] > best:
                best, arg = salience[i, t], i
        peak[t] = best
        reach = min(radius, arg, n_bins - 1 - arg)
        total = 0.0
        acc = 0.0
        for i in range(arg - reach, arg + reach + 1):
            if lo <= i <= hi:  # bins outside the search range count as silent
                w = salience[i, t]
                total += w
                acc += w * bin_cents[i]
        cents[t] = acc / total if total > 0.0 else np.nan
