"""Augmentation, applied identically to every stem so that stems still sum to the mix.

Order: EQ -> reverb -> gain -> channels -> noise -> sample rate. Every step but the noise is
linear and shared by all stems; the noise is added as its own stem, ``"noise"``. The parameters
drawn for an example (``draw_augmentation``) are a JSON-serializable dict stored in its metadata;
``apply_augmentation`` is a pure function of (stems, parameters).

Labels are in seconds, so no step changes them. Reverb makes notes ring past their labelled
offsets (labels stay the MIDI note times); its direct path is at lag 0, so it adds no delay.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from scipy import signal

NOISE_COLOURS: dict[str, float] = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0}
"""Noise colour -> slope of its power spectrum (power ~ f ** slope)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of each augmentation.

    Attributes:
        gain_db: range of the overall gain, dB (applied after peak normalization to -6 dBFS).
        noise_prob: probability of adding noise. snr_db: its SNR range against the mix, dB.
        reverb_prob: probability of reverb. rt60_s: RT60 range, seconds. drr_db: direct-to-reverberant
            ratio range, dB.
        eq_prob: probability of a 3-band EQ. eq_db: gain range of each band, dB.
        mono_prob: probability of a mono downmix (otherwise the stereo render is kept).
        resample_prob: probability of a sample-rate change. sample_rates: target rates, Hz.
    """

    gain_db: tuple[float, float] = (-12.0, 0.0)
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (5.0, 40.0)
    reverb_prob: float = 0.5
    rt60_s: tuple[float, float] = (0.2, 2.0)
    drr_db: tuple[float, float] = (-3.0, 12.0)
    eq_prob: float = 0.5
    eq_db: tuple[float, float] = (-9.0, 9.0)
    mono_prob: float = 0.3
    resample_prob: float = 0.3
    sample_rates: tuple[int, ...] = (16000, 22050, 32000, 44100, 48000)


NO_AUGMENTATION = {"gain_db": 0.0, "eq": None, "reverb": None, "noise": None, "mono": False,
                   "sample_rate": None}
"""Parameters of the identity augmentation."""


def draw_augmentation(rng: np.random.Generator, cfg: AugmentConfig) -> dict:
    """Draw an example's augmentation parameters (JSON-serializable)."""
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    return {
        "gain_db": u(cfg.gain_db),
        "eq": ({"low_shelf_db": u(cfg.eq_db), "low_hz": u((80, 300)), "peak_db": u(cfg.eq_db),
                "peak_hz": float(np.exp(rng.uniform(np.log(300), np.log(4000)))), "peak_q": u((0.5, 2.0)),
                "high_shelf_db": u(cfg.eq_db), "high_hz": u((3000, 9000))}
               if rng.random() < cfg.eq_prob else None),
        "reverb": ({"rt60_s": u(cfg.rt60_s), "drr_db": u(cfg.drr_db), "seed": int(rng.integers(2**31))}
                   if rng.random() < cfg.reverb_prob else None),
        "noise": ({"colour": str(rng.choice(list(NOISE_COLOURS))), "snr_db": u(cfg.snr_db),
                   "seed": int(rng.integers(2**31))} if rng.random() < cfg.noise_prob else None),
        "mono": bool(rng.random() < cfg.mono_prob),
        "sample_rate": int(rng.choice(cfg.sample_rates)) if rng.random() < cfg.resample_prob else None,
    }


def _biquad(kind: str, f0: float, gain_db: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook biquad (b, a) for "low", "peak" or "high" (shelves with S = 1)."""
    a_lin, w0 = 10 ** (gain_db / 40), 2 * np.pi * min(f0, 0.45 * sr) / sr
    cos, alpha = np.cos(w0), np.sin(w0) / (2 * q)
    if kind == "peak":
        b = [1 + alpha * a_lin, -2 * cos, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cos, 1 - alpha / a_lin]
    else:
        sq, sign = 2 * np.sqrt(a_lin) * alpha, (1 if kind == "low" else -1)
        ap, am = a_lin + 1, a_lin - 1
        b = [a_lin * (ap - sign * am * cos + sq), sign * 2 * a_lin * (am - sign * ap * cos),
             a_lin * (ap - sign * am * cos - sq)]
        a = [ap + sign * am * cos + sq, -sign * 2 * (am + sign * ap * cos), ap + sign * am * cos - sq]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def equalize(audio: np.ndarray, sr: int, eq: dict) -> np.ndarray:
    """3-band EQ (low shelf, peak, high shelf) of ``audio [C, N]``."""
    for kind, f, g, q in (("low", eq["low_hz"], eq["low_shelf_db"], 0.7071),
                          ("peak", eq["peak_hz"], eq["peak_db"], eq["peak_q"]),
                          ("high", eq["high_hz"], eq["high_shelf_db"], 0.7071)):
        b, a = _biquad(kind, f, g, q, sr)
        audio = signal.lfilter(b, a, audio, axis=-1)
    return audio.astype(np.float32)


def room_impulse_response(sr: int, channels: int, rt60_s: float, drr_db: float, seed: int) -> np.ndarray:
    """Synthetic RIR ``[C, L]``: a unit direct path at lag 0 plus exponentially decaying noise
    (60 dB down after ``rt60_s``; the band above 2 kHz decays 1.7x faster), scaled to a
    direct-to-reverberant energy ratio of ``drr_db``. L = 1.2 * rt60 seconds."""
    rng = np.random.default_rng(seed)
    n = int(1.2 * rt60_s * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal((channels, n))
    sos = signal.butter(2, 2000, "low", fs=sr, output="sos")
    low = signal.sosfilt(sos, noise, axis=-1)
    high = noise - low
    tail = low * np.exp(-6.908 * t / rt60_s) + high * np.exp(-6.908 * 1.7 * t / rt60_s)
    tail[:, : int(0.002 * sr)] = 0.0  # first reflection after 2 ms
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2, axis=-1, keepdims=True))
    tail[:, 0] += 1.0
    return tail.astype(np.float32)


HUM_HZ = (50.0, 60.0)
"""Mains frequencies a hum is drawn from."""


def mains_hum(rng: np.random.Generator, shape: tuple[int, int], sample_rate: int) -> np.ndarray:
    """Mains hum ``shape = (C, N)``, unit RMS: a 50 or 60 Hz fundamental (±0.5 %), its harmonics
    up to 2 kHz at 1/k^0.7 with random phases (odd ones 2x: rectifier buzz), a slow ±10 % swell."""
    f0 = float(rng.choice(HUM_HZ)) * (1 + rng.uniform(-0.005, 0.005))
    t = np.arange(shape[-1]) / sample_rate
    ks = np.arange(1, int(2000 / f0) + 1)
    amps = ks ** -0.7 * np.where(ks % 2 == 1, 2.0, 1.0)
    phases = rng.uniform(0, 2 * np.pi, (shape[0], len(ks)))
    x = np.zeros(shape)
    for i, (k, a) in enumerate(zip(ks, amps)):
        x += a * np.sin(2 * np.pi * k * f0 * t[None, :] + phases[:, i:i + 1])
    x *= 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def coloured_noise(rng: np.random.Generator, shape: tuple[int, int], colour: str,
                   sample_rate: int | None = None) -> np.ndarray:
    """Noise ``shape = (C, N)`` with power spectrum ~ f ** slope, unit RMS; ``colour="hum"``:
    ``mains_hum`` (needs ``sample_rate``)."""
    if colour == "hum":
        if sample_rate is None:
            raise ValueError("hum needs the sample rate")
        return mains_hum(rng, shape, sample_rate)
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    f = np.maximum(np.arange(spec.shape[-1]), 1.0)
    spec *= f ** (NOISE_COLOURS[colour] / 2)
    x = np.fft.irfft(spec, n=shape[-1], axis=-1)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def snr_scale(reference: np.ndarray, snr_db: float) -> np.float32:
    """The factor that puts unit-RMS noise ``snr_db`` below the mean power of ``reference``.

    The one definition of an SNR in training (augmentation, validation and evaluation
    conditions): power is the float64 mean square of every sample of ``reference`` (all
    channels), floored by 1e-10 so that silence gets a tiny, finite noise.
    """
    power = float(np.mean(np.asarray(reference, np.float64) ** 2)) + 1e-10
    return np.float32(np.sqrt(power / 10 ** (snr_db / 10)))


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``audio [C, N]`` through a room ``rir [>= C, L]`` (its first C channels), cut to N samples
    (the direct path is at lag 0, so nothing is delayed). The result is float64, as scipy
    returns it: callers cast once, after their last step."""
    n = audio.shape[-1]
    return signal.fftconvolve(audio, rir[: audio.shape[0]], axes=-1)[:, :n]


def crowd_tone(rng: np.random.Generator, others: list[np.ndarray], n: int, sample_rate: int) -> np.ndarray:
    """Room tone of a crowd and a band elsewhere in the room, ``[n]`` float64 at unit RMS: 3-6
    segments of ``others`` (other rendered parts, mono) at random offsets and gains (-9...0 dB),
    summed and put far away in a large room (RT60 0.8...2.0 s, direct-to-reverberant -12...-4 dB).

    Raises:
        ValueError: no clip in ``others`` (the crowd is built from other parts only).
    """
    if not others:
        raise ValueError("a crowd needs other clips to build it from")
    y = np.zeros(n)
    for _ in range(int(rng.integers(3, 7))):
        clip = others[int(rng.integers(len(others)))]
        start = int(rng.integers(0, max(1, len(clip) - n)))
        seg = np.asarray(clip[start:start + n], np.float64)
        y[:len(seg)] += seg * 10 ** (rng.uniform(-9.0, 0.0) / 20)
    rir = room_impulse_response(sample_rate, 1, float(rng.uniform(0.8, 2.0)), float(rng.uniform(-12.0, -4.0)),
                                int(rng.integers(2**31)))
    y = reverberate(y[None], rir)[0]
    rms = float(np.sqrt(np.mean(y ** 2)))
    return y / rms if rms > 0 else y


def _resample(audio: np.ndarray, sr: int, new_sr: int, n_out: int) -> np.ndarray:
    """soxr (HQ) resampling of ``[C, N]`` to exactly ``n_out`` samples."""
    y = soxr.resample(np.ascontiguousarray(audio.T), sr, new_sr, quality="HQ").T
    out = np.zeros((audio.shape[0], n_out), np.float32)
    out[:, : min(n_out, y.shape[1])] = y[:, :n_out]
    return out


def apply_augmentation(stems: dict[str, np.ndarray], sr: int, params: dict
                       ) -> tuple[dict[str, np.ndarray], int]:
    """Apply drawn parameters to every stem.

    Args:
        stems: name -> audio ``[C, N]`` float32 (C = 2 from the renderer), all the same shape.
        sr: their sample rate, Hz.
        params: from ``draw_augmentation`` (or ``NO_AUGMENTATION``).

    Returns:
        (stems, sample rate): the same names, plus ``"noise"`` if noise was added; each
        ``[C', N']`` with C' = 1 if mono, N' = round(N * new_sr / sr).
    """
    n_in = next(iter(stems.values())).shape[1]
    out = {}
    rir = None
    if params["reverb"]:
        r = params["reverb"]
        rir = room_impulse_response(sr, 2, r["rt60_s"], r["drr_db"], r["seed"])
    for name, audio in stems.items():
        x = equalize(audio, sr, params["eq"]) if params["eq"] else audio
        if rir is not None:
            x = reverberate(x, rir)
        x = x * np.float32(10 ** (params["gain_db"] / 20))
        out[name] = (x.mean(axis=0, keepdims=True) if params["mono"] else x).astype(np.float32)
    if params["noise"]:
        nz = params["noise"]
        mix = sum(out.values())
        noise = coloured_noise(np.random.default_rng(nz["seed"]), mix.shape, nz["colour"], sr)
        out["noise"] = noise * snr_scale(mix, nz["snr_db"])
    new_sr = params["sample_rate"] or sr
    if new_sr != sr:
        n_out = int(round(n_in * new_sr / sr))
        out = {name: _resample(x, sr, new_sr, n_out) for name, x in out.items()}
    return out, new_sr
