"""Packet-loss concealment: hold the last frame, fade 6 dB per lost frame, silence under -60 dB,
ramp back without a click; counted."""
from __future__ import annotations

import numpy as np

from rtmir.codec.conceal import Concealer

HOP = 160


def _run(pattern: str) -> tuple[list[np.ndarray], np.ndarray, Concealer]:
    """Feed frames ('x' arrived, '.' lost) with tokens = frame index; a constant 1.0 'decoder'."""
    c = Concealer(stages=2, hop=HOP, absent=1024)
    tokens, audio = [], []
    for i, ch in enumerate(pattern):
        t = c.tokens(np.array([i, i]) if ch == "x" else None)
        tokens.append(t.copy())
        y = np.ones(HOP, np.float32)
        c.apply(y)
        audio.append(y)
    return tokens, np.concatenate(audio), c


def test_a_lost_frame_holds_the_last_frame_and_is_counted():
    tokens, _, c = _run("xx..x")
    assert [t[0] for t in tokens] == [0, 1, 1, 1, 4]
    assert c.lost == 2


def test_before_any_frame_a_lost_frame_is_silence():
    tokens, audio, _ = _run("..x")
    assert (tokens[0] == 1024).all()
    assert np.abs(audio[:2 * HOP]).max() == 0.0
    assert np.allclose(audio[2 * HOP:], np.arange(1, HOP + 1) / HOP, atol=1e-6)  # the first frame ramps in


def test_the_fade_is_6_db_per_frame_and_reaches_silence():
    _, audio, _ = _run("x" + "." * 12)
    ends = audio[2 * HOP - 1::HOP]  # the gain reached at the end of each lost frame
    db = 20 * np.log10(np.maximum(ends, 1e-12))
    assert np.allclose(db[:9], -6.0 * np.arange(1, 10), atol=1e-3)
    assert ends[10] == 0.0 and ends[11] == 0.0  # under -60 dB: silent


def test_recovery_ramps_back_without_a_click():
    _, audio, _ = _run("x...xx")
    assert np.abs(np.diff(audio)).max() < 1.0 / HOP + 1e-6  # a linear ramp per hop, no step
    assert audio[-HOP:].min() == 1.0


def test_reset_forgets_everything():
    c = Concealer(2, HOP, 1024)
    c.tokens(np.array([3, 4]))
    c.tokens(None)
    c.reset()
    assert c.lost == 0 and (c.tokens(None) == 1024).all()
