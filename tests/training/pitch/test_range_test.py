"""The range test's measuring parts: tones and the score of a tracker on them (yin: no model)."""
from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.fluidsynth
def test_a_rendered_note_sounds_from_the_lead_to_the_end():
    """The GM notes start at LEAD_S (the ticks follow the score's resolution; a note that started
    late once cost every instrument row ~16 % of its steady frames)."""
    from training.pitch.range_test import NOTE_S, rendered
    from training.synth.render import RenderConfig, Renderer, measure_onset_offset
    from training.synth.soundfonts import resolve_soundfont

    renderer = Renderer(RenderConfig(RATE))
    try:
        path = resolve_soundfont("FluidR3_GM")
        x = rendered(73, 84, renderer, (path, measure_onset_offset(path, renderer)))  # flute C6
    finally:
        renderer.close()
    lead = int(LEAD_S * RATE)
    assert len(x) == int((LEAD_S + NOTE_S) * RATE)
    assert np.abs(x[:lead - int(0.01 * RATE)]).max() < 1e-3  # silence before the note
    assert np.abs(x[lead + int(0.05 * RATE):lead + int(0.1 * RATE)]).max() > 0.05  # sounding 50 ms after it
