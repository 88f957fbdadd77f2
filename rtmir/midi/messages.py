"""MIDI messages stamped with the audio they describe, and the few byte builders rtmir needs.

A ``MidiMessage`` is 1–3 bytes of channel voice or control data plus ``t``, seconds of stream
time of the audio it describes (the ``Event.t`` convention). Transports add their declared
latency on top (a live port cannot play a note before the audio that caused it was heard); a
Standard MIDI File places it at ``t`` itself, so it lines up with the input file.

Channels are 0-based here (0 = "channel 1" on a synthesizer's display).
"""
from __future__ import annotations

from dataclasses import dataclass

#: pitch bend centre (no bend), of the 14-bit range 0..16383
BEND_CENTRE = 8192


@dataclass(frozen=True, slots=True)
class MidiMessage:
    """One MIDI message.

    Attributes:
        t: seconds of stream time of the audio it describes.
        data: the message bytes (status first).
        node: the graph node whose results it came from ("" for setup messages).
    """

    t: float
    data: bytes
    node: str = ""


def _check_channel(channel: int) -> int:
    if not 0 <= channel <= 15:
        raise ValueError(f"MIDI channel must be 0..15 (0-based), got {channel}")
    return channel


def note_on(channel: int, note: int, velocity: int) -> bytes:
    """Note on; ``note`` and ``velocity`` clamped to 0..127 (velocity at least 1: 0 means off)."""
    return bytes((0x90 | _check_channel(channel), min(127, max(0, note)), min(127, max(1, velocity))))


def note_off(channel: int, note: int) -> bytes:
    """Note off with release velocity 0."""
    return bytes((0x80 | _check_channel(channel), min(127, max(0, note)), 0))


def control_change(channel: int, controller: int, value: int) -> bytes:
    return bytes((0xB0 | _check_channel(channel), controller & 0x7F, min(127, max(0, value))))


def pitch_bend(channel: int, value: int) -> bytes:
    """Pitch bend, ``value`` 0..16383 (8192 = none), clamped."""
    value = min(16383, max(0, value))
    return bytes((0xE0 | _check_channel(channel), value & 0x7F, value >> 7))


def bend_value(semitones: float, bend_range: float) -> int:
    """The 14-bit bend for ``semitones`` away from the note, with the receiver's ``bend_range``
    (± semitones at full scale); clamped to the range."""
    return min(16383, max(0, BEND_CENTRE + round(semitones / bend_range * BEND_CENTRE)))


def rpn(channel: int, number: int, value: int) -> list[bytes]:
    """Set registered parameter ``number`` (14-bit) to ``value`` (data entry MSB), then the null
    RPN so later data entry messages change nothing."""
    return [control_change(channel, 101, number >> 7), control_change(channel, 100, number & 0x7F),
            control_change(channel, 6, value), control_change(channel, 101, 127), control_change(channel, 100, 127)]


def bend_range_setup(channel: int, semitones: int) -> list[bytes]:
    """RPN 0 (pitch bend sensitivity) = ``semitones`` on ``channel``."""
    return rpn(channel, 0, semitones)


def mpe_zone_setup(members: int) -> list[bytes]:
    """The MPE Configuration Message (RPN 6 on the manager channel 0): a lower zone of
    ``members`` member channels (1..15), which receivers set to a ±48 semitone bend range."""
    if not 1 <= members <= 15:
        raise ValueError(f"an MPE zone has 1..15 member channels, got {members}")
    return rpn(0, 6, members)
