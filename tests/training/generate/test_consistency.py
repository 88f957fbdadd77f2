"""The consistency features measure what they name: key from pitch classes, tempo from onsets."""
from __future__ import annotations

import numpy as np
import pytest

from training.generate import consistency as cs

SR = 24000


def _tones(midi: list[int], seconds: float = 2.0, harmonics: int = 4) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0s = [440.0 * 2 ** ((m - 69) / 12) for m in midi]
    return sum(np.sin(2 * np.pi * h * f * t) / h for f in f0s for h in range(1, harmonics + 1)) / len(midi)


def _clicks(bpm: float, seconds: float = 8.0) -> np.ndarray:
    x = np.zeros(int(seconds * SR))
    burst = np.random.default_rng(0).standard_normal(240) * np.hanning(240)
    for start in np.arange(0, seconds - 0.02, 60.0 / bpm):
        i = int(start * SR)
        x[i:i + 240] += burst
    return x


def test_chroma_finds_the_pitch_classes_and_key_similarity_follows_them():
    c = cs.chroma(_tones([60, 64, 67]), SR)  # C E G
    assert set(np.argsort(c)[-3:]) == {0, 4, 7}
    same_key = cs.Features(cs.chroma(_tones([48, 55, 64], harmonics=2), SR), 0, np.zeros(1), 0)  # C G E, another voicing
    tritone = cs.Features(cs.chroma(_tones([66, 70, 73]), SR), 0, np.zeros(1), 0)  # F# A# C#
    ref = cs.Features(c, 0, np.zeros(1), 0)
    assert cs.distances(same_key, ref)["key"] < cs.distances(tritone, ref)["key"]


@pytest.mark.parametrize("bpm", [72.0, 100.0, 150.0])
def test_tempo_is_the_click_rate_up_to_an_octave(bpm):
    found = cs.tempo_bpm(_clicks(bpm), SR)
    assert cs._tempo_distance(found, bpm) < 0.05, found


def test_closer_scores_each_feature_against_the_true_and_the_other_clip():
    fam = np.array([0.9, 0.1])
    true = cs.Features(cs.chroma(_tones([60, 64, 67]), SR), 120.0, fam, -20.0)
    other = cs.Features(cs.chroma(_tones([66, 70, 73]), SR), 85.0, fam[::-1], -10.0)
    g = cs.Features(cs.chroma(_tones([60, 67]), SR), 60.0, fam, -11.0)  # 60 BPM: half of 120
    assert cs.closer(g, true, other) == {"key": 1.0, "tempo": 1.0, "families": 1.0, "loudness": 0.0}
    assert cs.closer(true, true, true)["key"] == 0.5
