"""MidiSink: one voice per pitch node, setup first, note-offs on the engine's reset and on close."""
from __future__ import annotations

import numpy as np
import pytest

from rtmir.core.engine import Engine
from rtmir.midi import messages as m
from rtmir.sinks.midi import MidiSetupError, MidiSink
from rtmir.tasks.yin import YinProcessor


class Captured(MidiSink):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.got: list[tuple[bytes, bool]] = []

    def _deliver(self, messages, immediate=False) -> None:
        self.got += [(x.data, immediate) for x in messages]


RATE = 44100


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]


def test_a_reset_ends_the_sounding_note_at_once_and_the_next_tone_starts_a_new_one():
    sink = Captured()
    engine = Engine([YinProcessor()], [sink])
    engine.prepare(RATE, 1, 1024)
    assert sink.got and all(immediate for _, immediate in sink.got)  # bend range setup, before anything
    x = tone(0.5)
    for i in range(0, x.shape[1] - 1023, 1024):
        engine.push(x[:, i:i + 1024])
    notes = [d for d, _ in sink.got if d[0] & 0xF0 in (0x80, 0x90)]
    assert notes == [m.note_on(0, 69, 100)]
    engine.reset()
    assert sink.got[-1] == (m.note_off(0, 69), True)
    for i in range(0, x.shape[1] - 1023, 1024):
        engine.push(x[:, i:i + 1024])
    assert [d for d, _ in sink.got if d[0] & 0xF0 == 0x90] == [m.note_on(0, 69, 100)] * 2


def test_a_graph_without_a_pitch_node_is_refused_with_one_line():
    from rtmir.tasks.delay import DelayProcessor

    with pytest.raises(MidiSetupError, match="needs a pitch or notes node"):
        Engine([DelayProcessor()], [Captured()])
