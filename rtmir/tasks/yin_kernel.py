"""YIN kernels (de Cheveigné & Kawahara 2002, steps 1–5), compiled with numba.

One call analyses every frame of a chunk, so the processor makes one compiled call per chunk::

    buf:  [ past L-hop samples | chunk of k*hop samples ]
    frame i = buf[i*hop : i*hop + L],   L = W + tau_max
    d(tau)  = sum_{j<W} (x[j] - x[j+tau])^2            (step 2, difference function)
    d'(tau) = d(tau) * tau / sum_{1<=k<=tau} d(k)       (step 3, cumulative mean normalised)
    tau*    = first dip of d' below threshold, walked down to its local minimum (step 4),
              else the global minimum of d' (reported unvoiced)
    refine  = parabola through d'(tau*-1), d'(tau*), d'(tau*+1) (step 5)

The aperiodicity d'(tau*) is what the processor turns into confidence (1 - aperiodicity).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True, nogil=True)
def _difference(x, start, window, tau_max, d):
    for tau in range(1, tau_max + 1):
        acc = 0.0
        for j in range(window):
            diff = x[start + j] - x[start + j + tau]
            acc += diff * diff
        d[tau] = acc


@njit(cache=True, nogil=True)
def _cmndf(d, tau_max, dprime):
    dprime[0] = 1.0
    running = 0.0
    for tau in range(1, tau_max + 1):
        running += d[tau]
        dprime[tau] = d[tau] * tau / running if running > 0.0 else 1.0


@njit(cache=True, nogil=True)
def _pick(dprime, tau_min, tau_max, threshold):
    tau = tau_min
    while tau < tau_max:
        if dprime[tau] < threshold:
            while tau + 1 <= tau_max and dprime[tau + 1] < dprime[tau]:
                tau += 1
            return tau
        tau += 1
    best = tau_min
    for t in range(tau_min, tau_max + 1):
        if dprime[t] < dprime[best]:
            best = t
    return best


@njit(cache=True, nogil=True)
def _refine(dprime, tau, tau_max):
    if tau <= 1 or tau >= tau_max:
        return float(tau), dprime[tau]
    a, b, c = dprime[tau - 1], dprime[tau], dprime[tau + 1]
    denom = a - 2.0 * b + c
    if denom <= 0.0:
        return float(tau), b
    shift = 0.5 * (a - c) / denom
    return tau + shift, b - 0.25 * (a - c) * shift


@njit(cache=True, nogil=True)
def yin_frames(buf, n_frames, hop, window, tau_min, tau_max, threshold, d, dprime, out_period, out_aperiodicity, out_rms):
    """Analyse ``n_frames`` frames of ``buf`` (see module docstring).

    Args:
        buf: float32 samples, at least ``(n_frames-1)*hop + window + tau_max`` long.
        hop, window, tau_min, tau_max: in samples.
        threshold: YIN absolute threshold on d'.
        d, dprime: scratch, float64 ``[tau_max + 1]``.
        out_period: refined period in samples per frame (float64 ``[>= n_frames]``).
        out_aperiodicity: d' at the chosen period, 0 (periodic) … ~1 (noise).
        out_rms: RMS of each frame's first ``window + tau_max`` samples.
    """
    length = window + tau_max
    for i in range(n_frames):
        start = i * hop
        energy = 0.0
        for j in range(length):
            energy += buf[start + j] * buf[start + j]
        out_rms[i] = np.sqrt(energy / length)
        _difference(buf, start, window, tau_max, d)
        _cmndf(d, tau_max, dprime)
        tau = _pick(dprime, tau_min, tau_max, threshold)
        period, aper = _refine(dprime, tau, tau_max)
        out_period[i] = period
        out_aperiodicity[i] = min(max(aper, 0.0), 1.0)
