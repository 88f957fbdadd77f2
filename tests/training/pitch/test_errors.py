"""The error breakdown of ``python -m training.pitch.errors`` on hand-made tracks."""
from __future__ import annotations

import numpy as np

from training.pitch.errors import classify, summarize
from training.pitch.metrics import note_positions


def test_note_positions_restart_after_silence_and_after_a_step():
    ref = np.array([0, 440, 440, 440, 0, 440, 466.16, 466.16])
    pos = note_positions(ref)
    assert pos[ref > 0].tolist() == [0, 1, 2, 0, 0, 1]  # (unvoiced frames: not scored, any value)


def test_each_kind_of_miss_is_told_apart():
    ref = np.full(20, 220.0)
    ref[0] = 0.0
    est = ref.copy()
    est[0] = 300.0  # unvoiced reference: never an error
    est[1] = 330.0  # first frame of the note, a fifth off: the onset wins
    est[5] = 250.0  # 5 frames in: onset30-80ms
    est[10] = 440.0  # an octave up
    est[12] = 330.0  # a fifth, steady
    est[15] = 240.0  # 150 cents, steady
    kinds = classify(ref, est)
    assert kinds[0] == "" and kinds[1] == "onset<30ms" and kinds[5] == "onset30-80ms"
    assert kinds[10] == "octave" and kinds[12] == "fifth" and kinds[15] == "other"
    assert (kinds != "").sum() == 5
    report = summarize([(ref, est)], ["Flute"])
    assert report["voiced_frames"] == 19 and report["share"]["octave"] == round(1 / 19, 4)
    assert report["error_rate_by_note_frame"][0] == 1.0 and report["octave_by_instrument"] == {"Flute": 1.0}
