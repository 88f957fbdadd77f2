"""``rtmir stream --midi-file``: the pitch tracker's notes in a Standard MIDI File, read back by
mido (a reader we did not write), at the times of the audio."""
from __future__ import annotations

import subprocess
import sys

import mido
import numpy as np
import soundfile as sf

RATE = 44100
#: (MIDI note, start s, end s); the last note runs to the end of the file (its off comes from close)
SCORE = [(60, 0.30, 0.90), (64, 1.20, 1.70), (67, 1.70, 2.30), (45, 2.70, 3.40), (72, 3.70, 4.00)]
SECONDS = 4.0


def render(path) -> None:
    t = np.arange(int(SECONDS * RATE)) / RATE
    x = np.zeros_like(t)
    for note, a, b in SCORE:  # 10 ms attack, 30 ms release (a cut sine is a click, heard as noise)
        on = (t >= a) & (t < b + 0.03)
        env = np.clip((t[on] - a) / 0.01, 0, 1) * np.clip((b + 0.03 - t[on]) / 0.03, 0, 1)
        x[on] += 0.4 * env * np.sin(2 * np.pi * 440.0 * 2 ** ((note - 69) / 12) * (t[on] - a))
    sf.write(path, x.astype(np.float32), RATE)


def notes_of(path) -> tuple[list[tuple[int, int, float, float]], list[mido.Message]]:
    """(channel, note, on s, off s) per note, and every channel message, from an SMF."""
    song = mido.MidiFile(path)
    assert song.type == 0 and song.ticks_per_beat == 960
    now, sounding, notes, msgs = 0.0, {}, [], []
    for msg in song:  # iterating a MidiFile yields delta times in seconds (tempo applied)
        now += msg.time
        if msg.is_meta:
            continue
        msgs.append(msg)
        if msg.type == "note_on" and msg.velocity > 0:
            assert (msg.channel, msg.note) not in sounding, "a note started twice"
            sounding[(msg.channel, msg.note)] = now
        elif msg.type in ("note_off", "note_on"):
            notes.append((msg.channel, msg.note, sounding.pop((msg.channel, msg.note)), now))
    assert not sounding, f"hanging notes: {sounding}"
    return sorted(notes, key=lambda n: n[2]), msgs


def stream(*args) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def sounding_pitch(path, at: float, bend_range: float = 2.0) -> float | None:
    """The pitch (fractional MIDI: note + bend) sounding at ``at`` seconds, None if none."""
    now, note, bend = 0.0, None, 0
    for msg in mido.MidiFile(path):
        now += msg.time
        if now > at:
            break
        if msg.type == "note_on" and msg.velocity > 0:
            note = msg.note
        elif msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
            note = None if msg.note == note else note
        elif msg.type == "pitchwheel":
            bend = msg.pitch
    return None if note is None else note + bend / 8192 * bend_range


def test_yin_notes_in_the_file_are_the_notes_played_at_their_times(tmp_path):
    wav, mid = tmp_path / "s.wav", tmp_path / "s.mid"
    render(wav)
    stream(wav, "--task", "yin", "--midi-file", mid)
    notes, msgs = notes_of(mid)
    assert [n[1] for n in notes] == [n for n, _, _ in SCORE]
    for (_, _, on, off), (_, a, b) in zip(notes, SCORE):
        assert abs(on - a) <= 0.05, (on, a)
        assert abs(off - min(b, SECONDS)) <= 0.08, (off, b)
    assert all(m.channel == 0 for m in msgs)
    assert any(m.type == "control_change" and m.control == 6 and m.value == 2 for m in msgs)  # bend range 2


def test_pitch_model_voice_sounds_the_pitch_played_in_every_note(tmp_path):
    """The neural tracker's first frames of a note scatter (an octave low, ~80 cents flat for
    40 ms on these sines), so its note numbers may start wrong; note + bend must still be the
    pitch played once the note has settled, and nothing may hang."""
    wav, mid = tmp_path / "s.wav", tmp_path / "s.mid"
    render(wav)
    stream(wav, "--task", "pitch", "--midi-file", mid)
    notes, _ = notes_of(mid)
    assert len(SCORE) <= len(notes) <= 2 * len(SCORE)
    for note, a, b in SCORE:
        got = sounding_pitch(mid, (a + b) / 2)
        assert got is not None and abs(got - note) < 0.5, (note, got)
    assert sounding_pitch(mid, 1.05) is None  # the rest between the first two notes is silent


def test_mpe_puts_each_note_on_its_own_member_channel(tmp_path):
    wav, mid = tmp_path / "s.wav", tmp_path / "s.mid"
    render(wav)
    stream(wav, "--task", "yin", "--midi-file", mid, "--mpe")
    notes, msgs = notes_of(mid)
    assert [n[1] for n in notes] == [n for n, _, _ in SCORE]
    assert [n[0] for n in notes] == [1, 2, 3, 4, 5]
    assert msgs[:3] == [mido.Message("control_change", channel=0, control=c, value=v) for c, v in ((101, 0), (100, 6), (6, 15))]
    bends = [m for m in msgs if m.type == "pitchwheel"]
    assert bends and all(abs(m.pitch) < 8192 * 0.5 / 48 for m in bends)  # sines in tune: within half a semitone


def test_the_same_file_at_any_block_size(tmp_path):
    wav = tmp_path / "s.wav"
    render(wav)
    got = []
    for block in (64, 1000, 4096):
        mid = tmp_path / f"b{block}.mid"
        stream(wav, "--task", "pitch", "--block", block, "--midi-file", mid)
        got.append(mid.read_bytes())
    assert got[0] == got[1] == got[2]
