"""The pitch voice: frames → notes with bend, debounced, stamped at the deciding frame's instant."""
from __future__ import annotations

import math

import pytest

from rtmir.midi import messages as m
from rtmir.midi.voice import PitchVoice, VoiceConfig, midi_of

HOP = 0.01


def hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def run(voice: PitchVoice, frames: list[float | None], t0: float = 0.0) -> list[tuple[float, bytes]]:
    """Feed one frame per hop (None = unvoiced, else a fractional MIDI note); (t, bytes) out."""
    out = []
    for k, note in enumerate(frames):
        t = t0 + k * HOP
        msgs = voice.frame(t, hz(note) if note is not None else 0.0, note is not None)
        out += [(round(x.t, 6), x.data) for x in msgs]
    return out


def kinds(msgs) -> list[tuple[str, int, int]]:
    names = {0x90: "on", 0x80: "off", 0xE0: "bend", 0xB0: "cc"}
    return [(names[d[0] & 0xF0], d[0] & 0x0F, d[1] if d[0] & 0xF0 != 0xE0 else d[1] | d[2] << 7) for _, d in msgs]


def test_midi_of_matches_a440_and_refuses_nonsense():
    assert midi_of(440.0) == pytest.approx(69.0)
    assert midi_of(261.6256) == pytest.approx(60.0, abs=1e-4)
    assert math.isnan(midi_of(0.0)) and math.isnan(midi_of(float("nan"))) and math.isnan(midi_of(-5.0))


def test_a_held_note_starts_at_its_first_voiced_frame_and_ends_at_its_first_unvoiced_one():
    voice = PitchVoice(VoiceConfig(onset_frames=2, release_frames=3))
    msgs = run(voice, [None, None, 60.0, 60.0, 60.0, 60.0, None, None, None, None])
    assert msgs == [(0.02, m.note_on(0, 60, 100)), (0.06, m.note_off(0, 60))]
    assert voice.note is None


def test_a_one_frame_blip_is_not_a_note_and_a_one_frame_dropout_does_not_end_one():
    voice = PitchVoice(VoiceConfig(onset_frames=2, release_frames=2))
    assert run(voice, [None, 64.0, None, None]) == []
    msgs = run(voice, [64.0, 64.0, None, 64.0, 64.0, None, None], t0=1.0)
    assert kinds(msgs) == [("on", 0, 64), ("off", 0, 64)]
    assert [t for t, _ in msgs] == [1.0, 1.05]


def test_the_fraction_of_a_semitone_is_sent_as_bend_before_the_note_and_then_when_it_moves():
    voice = PitchVoice(VoiceConfig(onset_frames=1, bend_range=2))
    msgs = run(voice, [60.25, 60.25, 60.5, 60.5001])
    assert kinds(msgs) == [("bend", 0, m.bend_value(0.25, 2)), ("on", 0, 60), ("bend", 0, m.bend_value(0.5, 2))]
    assert m.bend_value(0.25, 2) == 8192 + 1024


def test_legato_glides_within_the_bend_range_and_retriggers_beyond_it():
    voice = PitchVoice(VoiceConfig(onset_frames=1, retrigger_frames=2, bend_range=2))
    glide = [60.0, 60.4, 60.8, 61.2, 61.6, 61.9]  # 60→61.9 in small steps bends; then a step to 64
    msgs = run(voice, glide + [64.0, 64.0, 64.0])
    k = kinds(msgs)
    assert k[0] == ("on", 0, 60)
    assert ("bend", 0, m.bend_value(1.9, 2)) in k
    i = k.index(("off", 0, 60))
    assert k[i:] == [("off", 0, 60), ("bend", 0, 8192), ("on", 0, 64)]
    assert msgs[i][0] == pytest.approx(0.06)  # stamped at the first frame on the new note
    # a step of a semitone is a new note even inside the bend range; a smooth one beyond it is too
    k = kinds(run(PitchVoice(VoiceConfig(onset_frames=1, retrigger_frames=2)), [60.0, 61.0, 61.0]))
    assert [x for x in k if x[0] != "bend"] == [("on", 0, 60), ("off", 0, 60), ("on", 0, 61)]
    k = kinds(run(PitchVoice(VoiceConfig(onset_frames=1, retrigger_frames=2)), glide + [62.3, 62.5, 62.5]))
    assert [x for x in k if x[0] != "bend"] == [("on", 0, 60), ("off", 0, 60), ("on", 0, 62)]


def test_without_legato_every_new_nearest_note_is_a_new_note():
    voice = PitchVoice(VoiceConfig(onset_frames=1, retrigger_frames=2, legato=False))
    k = kinds(run(voice, [60.0, 61.0, 61.0, 61.0]))
    assert [x for x in k if x[0] != "bend"] == [("on", 0, 60), ("off", 0, 60), ("on", 0, 61)]


def test_mpe_gives_each_note_the_next_member_channel_with_its_bend_first():
    voice = PitchVoice(VoiceConfig(onset_frames=1, release_frames=1, mpe=True, mpe_members=3))
    k = kinds(run(voice, [60.0, None, 62.3, None, 64.0, None, 65.0, None]))
    ons = [(i, x) for i, x in enumerate(k) if x[0] == "on"]
    assert [x[1] for _, x in ons] == [1, 2, 3, 1]  # member channels of a 3-channel lower zone, in turn
    for i, (_, ch, _) in ons:
        assert k[i - 1][:2] == ("bend", ch)  # the bend reaches the channel before its note
    assert ("bend", 2, m.bend_value(0.3, 48)) in k  # members bend ±48 semitones


def test_setup_sets_the_bend_range_or_the_mpe_zone():
    plain = [x.data for x in PitchVoice(VoiceConfig(bend_range=12, channel=3)).setup()]
    assert plain[:3] == [m.control_change(3, 101, 0), m.control_change(3, 100, 0), m.control_change(3, 6, 12)]
    mpe = [x.data for x in PitchVoice(VoiceConfig(mpe=True)).setup()]
    assert mpe[:3] == [m.control_change(0, 101, 0), m.control_change(0, 100, 6), m.control_change(0, 6, 15)]
    assert m.control_change(15, 6, 48) in mpe


@pytest.mark.parametrize("cut", range(0, 9))
def test_all_off_never_leaves_a_note_hanging_wherever_the_stream_stops(cut):
    voice = PitchVoice(VoiceConfig(onset_frames=2, retrigger_frames=2))
    msgs = run(voice, [None, 60.0, 60.0, 60.4, 67.0, 67.0, 67.0, None, 60.0][:cut])
    msgs += [(9.0, x.data) for x in voice.all_off(9.0)]
    sounding: set[tuple[int, int]] = set()
    for _, d in msgs:
        if d[0] & 0xF0 == 0x90:
            assert (d[0] & 0x0F, d[1]) not in sounding
            sounding.add((d[0] & 0x0F, d[1]))
        elif d[0] & 0xF0 == 0x80:
            sounding.remove((d[0] & 0x0F, d[1]))
    assert not sounding and voice.all_off(10.0) == []


def test_config_refuses_out_of_range_values():
    with pytest.raises(ValueError):
        VoiceConfig(onset_frames=0)
    with pytest.raises(ValueError):
        VoiceConfig(channel=16)
    with pytest.raises(ValueError):
        VoiceConfig(mpe_members=16)
    assert VoiceConfig(onset_frames=2, release_frames=3, retrigger_frames=1).decision_frames == 2
