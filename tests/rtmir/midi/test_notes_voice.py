"""NoteVoice: note changes onto channels, drums on channel 10, a re-strike ends the note first,
a stray note-off is dropped, and all_off ends everything that sounds."""
from __future__ import annotations

from rtmir.midi import messages as m
from rtmir.midi.notes import DRUM_CHANNEL, NoteVoice


def test_changes_become_messages_on_the_voices_channel_and_drums_on_channel_10():
    v = NoteVoice(2, "notes")
    out = v.event(0.5, True, 60, 90, False)
    assert [(x.t, x.data, x.node) for x in out] == [(0.5, m.note_on(2, 60, 90), "notes")]
    assert [x.data for x in v.event(0.6, True, 36, 127, True)] == [m.note_on(DRUM_CHANNEL, 36, 127)]
    assert [x.data for x in v.event(0.61, False, 36, 0, True)] == [m.note_off(DRUM_CHANNEL, 36)]
    assert [x.data for x in v.event(0.7, False, 60, 0, False)] == [m.note_off(2, 60)]
    assert v.sounding == set()


def test_a_restrike_ends_the_note_first_and_a_stray_off_is_dropped():
    v = NoteVoice(0)
    v.event(0.0, True, 64, 80, False)
    assert [x.data for x in v.event(0.2, True, 64, 100, False)] == [m.note_off(0, 64), m.note_on(0, 64, 100)]
    assert v.event(0.3, False, 65, 0, False) == []  # never sounded
    assert [x.data for x in v.event(0.4, True, 64, 0, False)][-1] == m.note_on(0, 64, 1)  # velocity kept >= 1


def test_all_off_ends_every_sounding_note_once():
    v = NoteVoice(1)
    for p in (48, 52, 55):
        v.event(0.0, True, p, 70, False)
    v.event(0.1, True, 42, 70, True)
    offs = v.all_off(1.0)
    assert sorted(x.data for x in offs) == sorted([m.note_off(1, 48), m.note_off(1, 52), m.note_off(1, 55),
                                                   m.note_off(DRUM_CHANNEL, 42)])
    assert all(x.t == 1.0 for x in offs) and v.all_off(2.0) == []
