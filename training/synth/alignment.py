"""Checks of labels against rendered audio, independent of the generator (tests and bench).

``yin``: an f0 reference, a deliberately plain offline YIN (de Cheveigné & Kawahara 2002): the cumulative-mean-normalized
difference function on a 25 ms window, absolute threshold 0.15, parabolic interpolation,
50..2100 Hz. It sees only audio, nothing of the generator, and shares no code with the runtime's
streaming YIN (``rtmir.tasks.yin``). Frame k is centred on t = k / 100 s, like the labels.
``agreement``: the fraction of frames within 50 cents where both call voiced.
``onset_residuals_ms``: where each note's sound starts, relative to its label onset.
"""
from __future__ import annotations

import numpy as np

from .score import Note, Score, Track, tempo_us_for_bpm


def yin(x: np.ndarray, sr: int, n_frames: int, fmin=50.0, fmax=2100.0, win_s=0.025, threshold=0.15,
        silence_db=-50.0) -> np.ndarray:
    """f0 ``[n_frames]`` (Hz, 0 = unvoiced) of mono ``x``; frame k centred at k / 100 s."""
    w, tmax, tmin = int(win_s * sr), int(np.ceil(sr / fmin)), int(sr / fmax)
    pad = np.concatenate([np.zeros(w // 2), x, np.zeros(w + tmax + 1)])
    starts = np.round(np.arange(n_frames) * sr / 100).astype(int)
    seg = np.stack([pad[s:s + w + tmax + 1] for s in starts])            # [n, w + tmax + 1]
    L = 1 << int(np.ceil(np.log2(2 * w + tmax + 1)))
    head = np.fft.rfft(seg[:, :w], L)
    cross = np.fft.irfft(np.fft.rfft(seg, L) * np.conj(head), L)[:, :tmax + 1]   # sum x_j x_{j+tau}
    energy = np.cumsum(np.pad(seg**2, ((0, 0), (1, 0))), axis=1)
    e_tau = energy[:, w:w + tmax + 1] - energy[:, :tmax + 1]               # sum_{j=tau}^{tau+w-1} x_j^2
    d = e_tau[:, :1] + e_tau - 2 * cross                                   # difference function
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * np.arange(1, tmax + 1) / np.maximum(np.cumsum(d[:, 1:], axis=1), 1e-12)
    rms_db = 10 * np.log10(e_tau[:, 0] / w + 1e-20)
    f0 = np.zeros(n_frames)
    for k in range(n_frames):
        below = np.nonzero(cmnd[k, tmin:tmax] < threshold)[0]
        if rms_db[k] < silence_db or below.size == 0:
            continue
        t = below[0] + tmin
        while t + 1 < tmax and cmnd[k, t + 1] < cmnd[k, t]:
            t += 1
        a, b, c = cmnd[k, t - 1], cmnd[k, t], cmnd[k, t + 1]
        den = a - 2 * b + c
        f0[k] = sr / (t + (0.5 * (a - c) / den if den > 0 else 0.0))
    return f0


def agreement(est: np.ndarray, ref: np.ndarray, cents: float = 50.0) -> tuple[float, int]:
    """(fraction of frames within ``cents``, number of frames) over frames both call voiced."""
    both = (est > 0) & (ref > 0)
    if not both.any():
        return 0.0, 0
    err = 1200 * np.abs(np.log2(est[both] / ref[both]))
    return float(np.mean(err < cents)), int(both.sum())


def gap_score(program: int) -> Score:
    """Eight staccato notes of one instrument, 0.33 s apart at block-unaligned times (channel 0)."""
    notes = tuple(Note(300 + 529 * k, 300 + 529 * k + 100, 55 + 3 * k, 100) for k in range(8))
    return Score(tempo_us_for_bpm(97), 300 + 529 * 8 + 400, (Track("melody", program, 0, notes, monophonic=True),))


def onset_residuals_ms(score: Score, audio: np.ndarray, sample_rate: int) -> list[float]:
    """Per note of the first track: ms from the label onset to the first sample above 5 % of the
    note's peak (searching from 30 ms before it).

    Args:
        score: the score (notes must be >= 30 ms apart, e.g. ``gap_score``).
        audio: its render ``[C, n]``, aligned to MIDI time.
        sample_rate: Hz.

    Raises:
        AssertionError: the 25 ms before an onset are not quiet (< 5 % of the peak).
    """
    env, sr = np.abs(audio).max(axis=0), sample_rate
    out = []
    for note in score.tracks[0].notes:
        on = int(round(score.seconds(note.onset) * sr))
        peak = env[on:on + int(0.05 * sr)].max()
        assert env[on - int(0.03 * sr):on - int(0.005 * sr)].max() < 0.05 * peak, note
        out.append(1000 * (int(np.argmax(env[on - int(0.03 * sr):] > 0.05 * peak)) / sr - 0.03))
    return out
