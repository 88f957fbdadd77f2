"""The notes decoder: onsets turn pitches on, frame/offset turn them off, re-strikes, drum hits,
any split of the frames gives the same changes, and a reset ends every sounding note."""
from __future__ import annotations

import numpy as np
import pytest

from rtmir.tasks.note_decoder import (DRUM, DRUMS, FRAME, LOWEST_PITCH, N_OUTPUTS, OFFSET, ONSET, NoteDecoder,
                                      drum_class, notes_from_changes, output_labels, velocity)


def _probs(frames: int) -> np.ndarray:
    return np.zeros((N_OUTPUTS, frames))


def test_the_layout_names_every_row():
    labels = output_labels()
    assert len(labels) == N_OUTPUTS == 270
    assert labels[ONSET] == "onset_21" and labels[FRAME + 39] == "frame_60" and labels[OFFSET + 87] == "offset_108"
    assert labels[DRUM] == "drum_kick" and drum_class(36) == 0 and drum_class(44) == 2 and drum_class(54) is None


def test_an_onset_starts_a_note_and_the_frame_dropping_ends_it():
    p = _probs(10)
    i = 60 - LOWEST_PITCH
    p[ONSET + i, 2:4] = 0.9  # two frames of onset: one note, not two
    p[FRAME + i, 2:7] = 0.8
    changes = NoteDecoder()(p)
    assert [(c.frame, c.on, c.pitch) for c in changes] == [(2, True, 60), (7, False, 60)]
    assert changes[0].velocity == velocity(0.9) and changes[1].velocity == 0


def test_an_offset_ends_a_note_while_the_frame_still_sounds():
    p = _probs(10)
    i = 48 - LOWEST_PITCH
    p[ONSET + i, 1] = 0.9
    p[FRAME + i, 1:10] = 0.9
    p[OFFSET + i, 5] = 0.8
    assert [(c.frame, c.on) for c in NoteDecoder()(p)] == [(1, True), (5, False)]
    assert [(c.frame, c.on) for c in NoteDecoder(offset_threshold=0.95)(p)] == [(1, True)]


def test_a_new_onset_restrikes_a_sounding_pitch_off_before_on():
    p = _probs(8)
    i = 64 - LOWEST_PITCH
    p[FRAME + i, :] = 0.9
    p[ONSET + i, [1, 5]] = 0.7
    changes = NoteDecoder()(p)
    assert [(c.frame, c.on) for c in changes] == [(1, True), (5, False), (5, True)]


def test_a_drum_hit_is_a_note_on_then_off_one_frame_later():
    p = _probs(6)
    p[DRUM + 1, 2:4] = 0.8  # snare
    changes = NoteDecoder()(p)
    assert [(c.frame, c.on, c.pitch, c.drum) for c in changes] == [(2, True, DRUMS[1][1], True), (3, False, 38, True)]


def test_any_split_of_the_frames_gives_the_same_changes():
    rng = np.random.default_rng(0)
    p = (rng.random((N_OUTPUTS, 200)) ** 6).round(2)  # sparse crossings everywhere
    whole = [(c.frame, c.on, c.pitch, c.velocity, c.drum) for c in NoteDecoder()(p)]
    assert len(whole) > 50
    d, parts, start = NoteDecoder(), [], 0
    for size in (1, 7, 64, 3, 125):
        parts += [(c.frame + start, c.on, c.pitch, c.velocity, c.drum) for c in d(p[:, start:start + size])]
        start += size
    assert parts == whole


def test_reset_ends_every_sounding_note_and_forgets_the_stream():
    p = _probs(3)
    for pitch in (40, 52):
        p[ONSET + pitch - LOWEST_PITCH, 0] = p[FRAME + pitch - LOWEST_PITCH, :] = 0.9
    p[DRUM, 2] = 0.9
    d = NoteDecoder()
    d(p)
    offs = d.reset()
    assert sorted((c.on, c.pitch, c.drum) for c in offs) == [(False, 36, True), (False, 40, False), (False, 52, False)]
    assert d.reset() == [] and not d.active.any()
    with pytest.raises(KeyError, match="no parameter"):
        d.set_thresholds(bogus=0.1)


def test_notes_from_changes_pairs_ons_and_offs_and_closes_at_the_end():
    p = _probs(10)
    p[ONSET + 0, 1] = 0.9
    p[FRAME + 0, 1:4] = 0.9
    p[ONSET + 5, 6] = 0.9
    p[FRAME + 5, 6:] = 0.9
    changes = NoteDecoder()(p)
    notes = notes_from_changes([(c.frame / 100, c) for c in changes], 0.1)
    assert [(a, b, pitch) for a, b, pitch, _, _ in notes] == [(0.01, 0.04, 21), (0.06, 0.1, 26)]
