"""Score -> Standard MIDI File bytes, deterministic (same score, same bytes).

Each track is written with its setup at tick 0: program, volume 100, expression 127, pan, reverb
and chorus sends 0, and its pitch-bend range as RPN 0. At equal ticks, events are ordered
note-off, controls, pitch bend, note-on, so a legato note change is a clean hand-over and a bend
placed at a note's onset applies before the note starts.
"""
from __future__ import annotations

import io

import mido

from .score import Score, Track

_NOTE_OFF, _CONTROL, _BEND, _NOTE_ON = 0, 1, 2, 3


def _setup_messages(track: Track) -> list[mido.Message]:
    """Controller setup for a track at tick 0."""
    ch = track.channel
    msgs = [mido.Message("program_change", channel=ch, program=0 if track.is_drums else track.program)]
    for control, value in ((7, 100), (11, 127), (10, track.pan), (91, 0), (93, 0), (64, 0)):
        msgs.append(mido.Message("control_change", channel=ch, control=control, value=value))
    # RPN 0 = pitch-bend sensitivity (semitones, cents), then the null RPN.
    for control, value in ((101, 0), (100, 0), (6, track.bend_range), (38, 0), (101, 127), (100, 127)):
        msgs.append(mido.Message("control_change", channel=ch, control=control, value=value))
    return msgs


def _timed_events(track: Track) -> list[tuple[int, int, int, mido.Message]]:
    """(tick, order, sequence, message) for every note and bend of a track."""
    ch, events = track.channel, []
    for i, note in enumerate(track.notes):
        events.append((note.onset, _NOTE_ON, i, mido.Message(
            "note_on", channel=ch, note=note.pitch, velocity=note.velocity)))
        events.append((note.offset, _NOTE_OFF, i, mido.Message(
            "note_off", channel=ch, note=note.pitch, velocity=0)))
    for i, bend in enumerate(track.bends):
        events.append((bend.tick, _BEND, i, mido.Message("pitchwheel", channel=ch, pitch=bend.value)))
    events.sort(key=lambda e: e[:3])
    return events


def _midi_track(track: Track, length: int) -> mido.MidiTrack:
    """One MIDI track with delta times; ends at ``length`` ticks."""
    out = mido.MidiTrack([mido.MetaMessage("track_name", name=track.name, time=0)])
    out.extend(_setup_messages(track))
    now = 0
    for tick, _, _, msg in _timed_events(track):
        out.append(msg.copy(time=tick - now))
        now = tick
    out.append(mido.MetaMessage("end_of_track", time=max(0, length - now)))
    return out


def score_to_midi(score: Score, track_names: tuple[str, ...] | None = None) -> bytes:
    """Standard MIDI File (type 1) of a score, or of some of its tracks.

    Args:
        score: the score.
        track_names: names of the tracks to write (a stem's own file); None = all.

    Returns:
        The file's bytes.

    Raises:
        KeyError: a name in ``track_names`` is not a track of the score.
    """
    tracks = score.tracks
    if track_names is not None:
        by_name = {t.name: t for t in score.tracks}
        tracks = tuple(by_name[name] for name in track_names)
    mid = mido.MidiFile(type=1, ticks_per_beat=score.ticks_per_beat)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=score.tempo_us, time=0),
                                mido.MetaMessage("end_of_track", time=score.length)])
    mid.tracks.append(conductor)
    for track in tracks:
        mid.tracks.append(_midi_track(track, score.length))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
