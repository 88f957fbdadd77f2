"""Channel mapping between a source and what a processor takes: pass, mean to mono, copy mono.

    source [C_src, n] ──► "pass" (same count) · "mean" (many → mono) · "copy" (mono → many)

Every function here is real-time safe: it writes into arrays the caller preallocated.
"""
from __future__ import annotations

import numpy as np
from numba import njit


class ChannelError(ValueError):
    """The source's channels cannot be mapped onto what a processor needs."""


def channel_map(src_channels: int, proc_channels: int) -> str:
    """How source channels become processor channels: "pass", "mean" or "copy".

    Raises:
        ChannelError: neither side is mono and the counts differ.
    """
    if src_channels == proc_channels:
        return "pass"
    if proc_channels == 1:
        return "mean"
    if src_channels == 1:
        return "copy"
    raise ChannelError(
        f"cannot map {src_channels} input channels onto a processor that needs {proc_channels}: "
        "give it mono or exactly that many channels"
    )


@njit(cache=True, nogil=True)
def _mean_f64(src, dst):
    c, n = src.shape
    for i in range(n):
        acc = 0.0  # float64: the sum of float32 channels, rounded once
        for k in range(c):
            acc += src[k, i]
        dst[i] = acc / c


def mean_into(src: np.ndarray, dst: np.ndarray) -> None:
    """``dst[n] = mean over channels of src [C, n]``, summed in float64 and rounded once: exact
    for identical channels (C copies of x give x, bit for bit), within half an ulp otherwise.
    No temporary, no allocation: real-time safe."""
    if src.shape[0] == 1:
        np.copyto(dst, src[0])
    else:
        _mean_f64(src, dst)


def fit_channels(src: np.ndarray, dst: np.ndarray) -> None:
    """Copy ``src`` ``[C_in, n]`` into ``dst`` ``[C_out, n]``: same, mean to mono, or mono repeated."""
    if src.shape[0] == dst.shape[0]:
        dst[:] = src
    elif dst.shape[0] == 1:
        mean_into(src, dst[0])
    elif src.shape[0] == 1:
        dst[:] = src
    else:
        k = min(src.shape[0], dst.shape[0])
        dst[:k] = src[:k]
        dst[k:] = 0.0
