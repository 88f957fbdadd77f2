"""Note events of one notes node → MIDI messages, with every note-off guaranteed.

A notes processor (``rtmir.tasks.notes``) already decides note-ons and note-offs; ``NoteVoice``
puts them on channels (pitched notes on the node's channel, drum hits on the GM percussion
channel 10) and keeps what sounds, so that a note-on for a pitch already sounding ends it first,
a note-off for one not sounding is dropped, and ``all_off`` ends everything (stop, reset,
device loss, end of stream).
"""
from __future__ import annotations

from . import messages as m
from .messages import MidiMessage

DRUM_CHANNEL = 9
"""GM percussion: channel 10 (index 9)."""


class NoteVoice:
    """Args: channel: pitched notes' channel (0..15). node: the node name stamped on messages.

    Not thread-safe: one thread feeds it (the engine's sinks run on the worker)."""

    decision_frames = 0
    """Frames past an event a message waits for: none (the processor decided; a pitch voice waits)."""

    def __init__(self, channel: int, node: str = "") -> None:
        self.channel, self.node = channel, node
        self.sounding: set[tuple[int, int]] = set()  # (channel, note)

    def setup(self, t: float = 0.0) -> list[MidiMessage]:
        """Nothing to set up (no bends): an empty list."""
        return []

    def event(self, t: float, on: bool, pitch: int, velocity: int, drum: bool) -> list[MidiMessage]:
        """One note change at ``t`` (the instant of the audio it describes) → its messages."""
        key = (DRUM_CHANNEL if drum else self.channel, int(pitch))
        out = []
        if key in self.sounding:
            out.append(MidiMessage(t, m.note_off(*key), self.node))
            self.sounding.discard(key)
        if on:
            out.append(MidiMessage(t, m.note_on(key[0], key[1], max(1, min(127, int(velocity)))), self.node))
            self.sounding.add(key)
        return out

    def all_off(self, t: float) -> list[MidiMessage]:
        """End every sounding note now (stamped ``t``)."""
        out = [MidiMessage(t, m.note_off(ch, note), self.node) for ch, note in sorted(self.sounding)]
        self.sounding.clear()
        return out
