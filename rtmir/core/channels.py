"""Channel mapping between a source and what a processor takes: pass, mean to mono, copy mono.

    source [C_src, n] ──► "pass" (same count) · "mean" (many → mono) · "copy" (mono → many)

Every function here is real-time safe: it writes into arrays the caller preallocated.
"""
from __future__ import annotations

import numpy as np


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


def mean_into(src: np.ndarray, dst: np.ndarray, acc: np.ndarray | None = None) -> None:
    """``dst[n] = mean over channels of src [C, n]`` without a temporary (``np.mean`` along an
    axis allocates one block-sized buffer per call). Real-time safe.

    With ``acc`` (a float64 buffer of at least ``n``) the sum is taken in float64 and rounded
    once: exact for identical channels (C copies of x give x, bit for bit), and the mean of
    any float32 channels to within half an ulp."""
    n = src.shape[1]
    if acc is not None and src.shape[0] > 1:
        a = acc[:n]
        np.copyto(a, src[0])
        for c in range(1, src.shape[0]):
            np.add(a, src[c], out=a)
        np.divide(a, src.shape[0], out=a)
        np.copyto(dst, a, casting="same_kind")
        return
    np.copyto(dst, src[0])
    for c in range(1, src.shape[0]):
        np.add(dst, src[c], out=dst)
    if src.shape[0] > 1:
        np.multiply(dst, 1.0 / src.shape[0], out=dst)


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
