"""The one registry of audio conditions, used by training, validation and evaluation alike.

A *condition* is a named, seeded degradation of a clip. Its parameters are a JSON-able dict in
``training.synth.augment``'s format (``eq``, ``reverb``, ``gain_db``, ``noise``) and are applied
by ``training.synth.augment.apply_augmentation`` — the same code that augments rendered
datasets — so there is one implementation of each step:

    name            what                                                     parameters
    clean           the clip as it is                                        none
    <colour><snr>   coloured noise at an SNR (dB) against the clip's power:  fixed; noise seed = seed
                    white10, pink10, brown0, blue20, white-5 ...; hum<snr>: mains hum
                    (50/60 Hz and harmonics, ``augment.mains_hum``), e.g. hum10
    noisy           noise at 10 dB, colour drawn from white/pink/brown/blue  drawn from the seed
    reverb          a synthetic room, RT60 1.0 s, direct-to-reverberant 3 dB fixed; room seed = seed
    rooms           a synthetic room, RT60 0.3...1.2 s, DRR 0...6 dB          drawn from the seed
    eq              a 3-band EQ, each band -9...+9 dB                        drawn from the seed
    gain<db>        a gain, e.g. gain-20                                      fixed
    crowd<snr>      room tone built from other clips of the set (3-6 of them,  drawn from the seed;
                    far away in a large room, ``augment.crowd_tone``) at an   needs ``pool``
                    SNR, e.g. crowd10

``seed`` is an int (fixed conditions use it directly, e.g. clip i of a validation set gets
``seed + i``) or a sequence of ints (drawn through ``numpy.random.SeedSequence``, so
``[set seed, clip, condition]`` gives independent draws). The random *training* condition
(``augment_crop``: EQ -> room -> noise -> level, each with a probability) is built from the same
primitives, ``training.synth.augment.{equalize, room_impulse_response, reverberate,
coloured_noise, snr_scale}``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.synth.augment import (NO_AUGMENTATION, NOISE_COLOURS, apply_augmentation, coloured_noise,
                                    crowd_tone, equalize, reverberate, room_impulse_response, snr_scale)

SeedLike = int | Sequence[int]

LISTED = ("clean", "white10", "pink10", "brown10", "blue10", "hum10", "crowd10", "noisy", "reverb", "rooms", "eq",
          "gain-20")
"""Names shown in messages and ``--help`` (any ``<colour><snr>`` and ``gain<db>`` is known too)."""

_NOISE = re.compile(r"^(white|pink|brown|blue|hum)(-?\d+(?:\.\d+)?)$")
_GAIN = re.compile(r"^gain(-?\d+(?:\.\d+)?)$")
_CROWD = re.compile(r"^crowd(-?\d+(?:\.\d+)?)$")


class UnknownCondition(ValueError):
    """A condition name the registry does not know."""


@dataclass(frozen=True)
class AugmentRanges:
    """The random training condition (``augment_crop``), applied in this order: EQ -> room ->
    noise -> level."""

    eq_prob: float = 0.5  # 3-band EQ (training.synth.augment.equalize)
    eq_db: tuple[float, float] = (-9.0, 9.0)  # band gains, dB
    reverb_prob: float = 0.35  # synthetic room (training.synth.augment.room_impulse_response)
    rt60_s: tuple[float, float] = (0.2, 1.5)
    drr_db: tuple[float, float] = (-3.0, 12.0)
    noise_prob: float = 0.6  # coloured noise, colour drawn from noise_colours
    snr_db: tuple[float, float] = (0.0, 35.0)
    noise_colours: tuple[str, ...] = tuple(NOISE_COLOURS)  # white, pink, brown, blue (+ "hum": mains hum)
    level_dbfs: tuple[float, float] = (-40.0, -3.0)  # peak level of the crop after everything
    crowd_prob: float = 0.0  # room tone from other clips (augment.crowd_tone), after the noise
    crowd_snr_db: tuple[float, float] = (5.0, 30.0)


def _rng(seed: SeedLike) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed))


def _int_seed(seed: SeedLike) -> int:
    return seed if isinstance(seed, (int, np.integer)) else int(_rng(seed).integers(2**31))


def _draw_eq(rng: np.random.Generator, eq_db: tuple[float, float], high_hz: tuple[float, float]) -> dict:
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    return {"low_shelf_db": u(eq_db), "low_hz": u((80, 300)), "peak_db": u(eq_db),
            "peak_hz": float(np.exp(rng.uniform(np.log(300), np.log(4000)))), "peak_q": u((0.5, 2.0)),
            "high_shelf_db": u(eq_db), "high_hz": u(high_hz)}


def params(name: str, seed: SeedLike) -> dict:
    """The parameters of condition ``name`` for one clip (``training.synth.augment`` format).

    Raises:
        UnknownCondition: ``name`` is not a condition.
    """
    out = dict(NO_AUGMENTATION)
    if name == "clean":
        return out
    if m := _NOISE.match(name):
        out["noise"] = {"colour": m.group(1), "snr_db": float(m.group(2)), "seed": _int_seed(seed)}
    elif m := _GAIN.match(name):
        out["gain_db"] = float(m.group(1))
    elif m := _CROWD.match(name):
        out["crowd"] = {"snr_db": float(m.group(1)), "seed": _int_seed(seed)}
    elif name == "reverb":
        out["reverb"] = {"rt60_s": 1.0, "drr_db": 3.0, "seed": _int_seed(seed)}
    elif name == "noisy":
        rng = _rng(seed)
        out["noise"] = {"colour": str(rng.choice(list(NOISE_COLOURS))), "snr_db": 10.0, "seed": int(rng.integers(2**31))}
    elif name == "rooms":
        rng = _rng(seed)
        out["reverb"] = {"rt60_s": float(rng.uniform(0.3, 1.2)), "drr_db": float(rng.uniform(0.0, 6.0)),
                         "seed": int(rng.integers(2**31))}
    elif name == "eq":
        out["eq"] = _draw_eq(_rng(seed), (-9.0, 9.0), (3000, 7000))
    else:
        raise UnknownCondition(f"unknown condition {name!r}: one of {', '.join(LISTED)} "
                               f"(or any <white|pink|brown|blue|hum|crowd><snr dB>, gain<dB>)")
    return out


def check(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple, after checking each is a condition (so a run fails before it starts).

    Raises:
        UnknownCondition: one is not; or ``names`` is empty.
    """
    if not names:
        raise UnknownCondition(f"no condition named: name one or more of {', '.join(LISTED)}")
    for name in names:
        params(name, 0)
    return tuple(names)


def is_condition(name: str) -> bool:
    """Whether ``name`` is a condition of the registry."""
    try:
        params(name, 0)
    except UnknownCondition:
        return False
    return True


def apply(audio: np.ndarray, sample_rate: int, condition_params: dict,
          pool: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """``audio`` (``[n]`` or ``[C, n]``) under ``condition_params``: float32, same shape.

    Noise is added at its SNR against the (EQ'd, reverberated) clip, all channels together; a
    crowd (``params["crowd"]``) is built from ``pool`` (other clips at ``sample_rate``, mono).

    Raises:
        ValueError: a crowd and no ``pool``.
    """
    condition_params = dict(condition_params)
    crowd = condition_params.pop("crowd", None)
    x = audio[None] if audio.ndim == 1 else audio
    stems, _ = apply_augmentation({"mix": x}, sample_rate, condition_params)
    y = sum(stems.values())
    if crowd is not None:
        tone = crowd_tone(np.random.default_rng(crowd["seed"]), list(pool or []), y.shape[-1], sample_rate)
        y = y + tone[None] * snr_scale(y, crowd["snr_db"])
    y = np.ascontiguousarray(y, dtype=np.float32)
    return y[0] if audio.ndim == 1 else y


def pool_without(clips: Sequence[np.ndarray], i: int) -> list[np.ndarray]:
    """Every clip of a set but the i-th: what a crowd on clip i is built from."""
    return [x for j, x in enumerate(clips) if j != i]


def degrade(audio: np.ndarray, name: str, seed: SeedLike, sample_rate: int = 16000,
            pool: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """``apply(audio, sample_rate, params(name, seed), pool)``: condition ``name`` on one clip
    (``pool``: the other clips a crowd is built from; the clip itself should not be among them).

    Raises:
        UnknownCondition: ``name`` is not a condition. ValueError: a crowd without ``pool``.
    """
    return apply(audio, sample_rate, params(name, seed), pool)


def augment_crop(x: np.ndarray, past: np.ndarray, rng: np.random.Generator, ranges: AugmentRanges,
                 sample_rate: int, others: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The random training condition on a mono crop ``x [n]``: EQ -> room -> noise -> crowd
    (from ``others``, when ``crowd_prob`` > 0) -> level.

    ``past`` (the audio just before the crop) goes through the EQ and the room too, so the room's
    tail of earlier notes is heard in the crop. Every draw comes from ``rng`` in a fixed order
    (the order training has always used: changing it changes every run's data).
    """
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    y = np.concatenate([past, x])[None]  # [1, p + n]
    if rng.random() < ranges.eq_prob:
        y = equalize(y, sample_rate, _draw_eq(rng, ranges.eq_db, (3000, 7000)))
    if rng.random() < ranges.reverb_prob:
        rir = room_impulse_response(sample_rate, 1, u(ranges.rt60_s), u(ranges.drr_db), int(rng.integers(2**31)))
        y = reverberate(y, rir)
    y = y[0, len(past):]
    if rng.random() < ranges.noise_prob:
        noise = coloured_noise(rng, (1, len(y)), str(rng.choice(list(ranges.noise_colours))), sample_rate)[0]
        y = y + noise * snr_scale(y, u(ranges.snr_db))
    if ranges.crowd_prob and len(others) and rng.random() < ranges.crowd_prob:  # no draw when off: old runs unchanged
        y = y + crowd_tone(rng, list(others), len(y), sample_rate) * snr_scale(y, u(ranges.crowd_snr_db))
    peak = float(np.abs(y).max())
    if peak > 0:
        y = y * np.float32(10 ** (u(ranges.level_dbfs) / 20) / peak)
    return y.astype(np.float32)
