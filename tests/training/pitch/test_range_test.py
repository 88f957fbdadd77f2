"""The range test's measuring parts: tones and the score of a tracker on them (yin: no model)."""
from __future__ import annotations

import numpy as np

from training.pitch.range_test import LEAD_S, RATE, hz, score, tone


def test_tones_are_silence_then_the_note():
    for kind in ("sine", "sawtooth"):
        x = tone(kind, 57)
        lead = int(LEAD_S * RATE)
        assert not x[:lead].any() and 0.49 < np.abs(x[lead:]).max() <= 0.5
        spectrum = np.abs(np.fft.rfft(x[lead:lead + RATE]))
        assert abs(np.argmax(spectrum) - hz(57)) < 2  # 1 Hz bins: the fundamental is the peak


def test_score_tells_right_from_confidently_wrong():
    right, wrong = score("yin", tone("sine", 69), 69)  # A4: YIN's home ground
    assert right >= 0.95 and wrong == 0.0
    right, wrong = score("yin", tone("sine", 69), 81)  # scored against the octave above: all wrong
    assert right == 0.0 and wrong >= 0.95
