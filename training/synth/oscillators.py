"""Synthetic pitched lines with exact, audio-aligned f0 labels over the whole range (A0 ... C8+).

The FluidSynth sets hold few notes at the ends of the range (a 5-string bass's B0, a piccolo's
C8) and none as bare sines or sawtooths. These lines fill the gap for the pitch model: a clip is a
monophonic sequence of notes and rests; each note has an f0 drawn log-uniformly over
``[lo_hz, hi_hz]``, an amplitude envelope (attack, decay to a sustain level, release), optional
vibrato, and, when it follows another note without a rest, sometimes a glide from it. The
waveform is a band-limited harmonic series drawn once per clip: a sine, triangle, square,
sawtooth or a random spectral tilt, sometimes with a weak fundamental. Harmonics fade out before
0.45 x the sample rate, so nothing aliases.

Labels follow the ``aligned-v1`` convention of ``training.synth.aligned``: an instant is voiced
while its note's envelope is above ``AUDIBLE_DB`` re the clip's loudest envelope (release tails
included); an oscillator is periodic from its first sample, so onsets need no measuring. A share
``out_of_range`` of the notes lies outside ``[lo_hz, hi_hz]`` (below 20 Hz or up to 7 kHz) and is
labelled unvoiced: a pitch the model has no bin for must not come out as the nearest one.
"""
from __future__ import annotations

import numpy as np

from .aligned import AUDIBLE_DB
from .labels import FRAME_RATE

WAVEFORMS = ("sine", "triangle", "square", "sawtooth", "tilt")


def _harmonic_amplitudes(rng: np.random.Generator, waveform: str, n: int) -> np.ndarray:
    """Amplitudes of harmonics 1..n for ``waveform`` (unnormalised)."""
    k = np.arange(1, n + 1, dtype=np.float64)
    if waveform == "sine":
        a = (k == 1).astype(np.float64)
    elif waveform == "triangle":
        a = np.where(k % 2 == 1, 1.0 / k ** 2, 0.0)
    elif waveform == "square":
        a = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif waveform == "sawtooth":
        a = 1.0 / k
    else:  # a random tilt, odd or even harmonics emphasised, sometimes a weak fundamental
        a = k ** -rng.uniform(0.3, 2.5) * np.where(k % 2 == 1, 1.0, rng.uniform(0.2, 1.0))
        if rng.random() < 0.25:
            a[0] *= rng.uniform(0.05, 0.3)
    return a


def _envelope(n: int, attack: int, decay_s: float, sustain: float, release_at: int, release_s: float,
              sample_rate: int) -> np.ndarray:
    """Amplitude envelope ``[n]``: linear attack, exponential decay to ``sustain``, release after ``release_at``."""
    t = np.arange(n, dtype=np.float64)
    env = np.minimum(t / max(attack, 1), 1.0)
    after = np.maximum(t - attack, 0.0) / sample_rate
    env = np.where(t < attack, env, sustain + (1.0 - sustain) * np.exp(-after / decay_s))
    level = env[min(release_at, n - 1)]
    rel = np.maximum(t - release_at, 0.0) / sample_rate
    return np.where(t < release_at, env, level * np.exp(-rel / release_s))


def oscillator_clip(rng: np.random.Generator, n_samples: int, sample_rate: int, lo_hz: float = 27.5,
                    hi_hz: float = 4300.0, max_harmonics: int = 40, out_of_range: float = 0.08,
                    waveform: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One clip and its labels.

    Args:
        rng: the clip's generator (the clip is a pure function of its state).
        n_samples: clip length, samples.
        sample_rate: Hz (a multiple of ``FRAME_RATE``).
        lo_hz, hi_hz: range of the labelled (voiced) notes' f0.
        max_harmonics: harmonics synthesised at most.
        out_of_range: share of notes outside ``[lo_hz, hi_hz]``, labelled unvoiced.
        waveform: one of ``WAVEFORMS``, or None to draw one.

    Returns:
        ``(audio [n_samples] float32 peaking at 0.5, f0 [n_samples * 100 // sample_rate] float32 Hz)``:
        label ``j`` describes the instant ``j / 100`` s; 0 = unvoiced.
    """
    f0 = np.zeros(n_samples)
    env = np.zeros(n_samples)
    labelled = np.zeros(n_samples, bool)  # inside the labelled range
    pos, prev_f0 = int(rng.uniform(0.0, 0.3) * sample_rate), 0.0
    while pos < n_samples:
        dur = int(rng.uniform(0.06, 1.2) * sample_rate)
        outside = rng.random() < out_of_range
        if outside:
            hz = rng.uniform(8.0, 20.0) if rng.random() < 0.3 else np.exp(rng.uniform(np.log(hi_hz * 1.06), np.log(7000.0)))
        else:
            hz = float(np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz))))
        n = min(dur + int(0.4 * sample_rate), n_samples - pos)  # room for the release
        rest = rng.random() < 0.4
        release_at = min(dur, n)
        e = _envelope(n, int(rng.uniform(0.002, 0.08) * sample_rate), rng.uniform(0.05, 0.6),
                      rng.uniform(0.2, 1.0), release_at, rng.uniform(0.01, 0.3), sample_rate)
        e *= rng.uniform(0.3, 1.0)
        track = np.full(n, hz)
        if prev_f0 > 0 and rng.random() < 0.3:  # a glide from the previous note
            g = min(n, int(rng.uniform(0.02, 0.15) * sample_rate))
            track[:g] = np.exp(np.linspace(np.log(prev_f0), np.log(hz), g))
        if rng.random() < 0.4:  # vibrato
            t = np.arange(n) / sample_rate
            track *= 2.0 ** (rng.uniform(5.0, 60.0) / 1200.0 * np.sin(2 * np.pi * rng.uniform(4.0, 7.0) * t)
                             * np.minimum(t / 0.2, 1.0))
        f0[pos:pos + n], env[pos:pos + n], labelled[pos:pos + n] = track, e, not outside
        step = release_at if not rest else release_at + int(rng.uniform(0.05, 0.4) * sample_rate)
        prev_f0 = 0.0 if rest or outside else hz  # no glide out of an unlabelled note
        pos += max(step, 1)
    if waveform is None:
        waveform = WAVEFORMS[int(rng.integers(len(WAVEFORMS)))]
    elif waveform not in WAVEFORMS:
        raise ValueError(f"unknown waveform {waveform!r}: one of {', '.join(WAVEFORMS)}")
    amps = _harmonic_amplitudes(rng, waveform, max_harmonics)
    amps /= np.sqrt(np.sum(amps ** 2) / 2)  # unit RMS for a steady tone
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    audio = np.zeros(n_samples)
    nyquist_edge = 0.45 * sample_rate
    for k in np.nonzero(amps)[0]:
        h = k + 1
        fade = np.clip((nyquist_edge - h * f0) / (0.05 * sample_rate), 0.0, 1.0)
        if fade.any():
            audio += amps[k] * fade * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    audio *= env
    peak = np.max(np.abs(audio))
    audio = audio * (0.5 / peak) if peak > 0 else audio
    step = sample_rate // FRAME_RATE
    grid = np.arange(n_samples // step) * step
    audible = env[grid] >= 10 ** (AUDIBLE_DB / 20) * max(env.max(), 1e-12)
    labels = np.where(audible & labelled[grid] & (f0[grid] > 0), f0[grid], 0.0)
    return audio.astype(np.float32), labels.astype(np.float32)
