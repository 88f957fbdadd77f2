"""The voice evaluation's pieces: its scores can fail, and it reads the notes rtmir writes."""
from __future__ import annotations

import numpy as np
import pytest

from training.notes.voice_eval import file_notes, reference_notes, score_clip


def test_scores_are_one_for_the_reference_and_zero_for_notes_late_by_more_than_the_tolerance():
    ref_i = np.array([[0.5, 1.0], [1.2, 1.5], [2.0, 2.6]])
    ref_p = np.array([261.6, 329.6, 392.0])
    assert score_clip(ref_i, ref_p, ref_i, ref_p)["onset_f1"] == pytest.approx(1.0)
    assert score_clip(ref_i, ref_p, ref_i + 0.06, ref_p)["onset_f1"] == 0.0
    assert score_clip(ref_i, ref_p, ref_i, ref_p * 2 ** (1 / 12))["onset_f1"] == 0.0  # a semitone off
    assert score_clip(ref_i, ref_p, ref_i[:0], ref_p[:0]) == {"onset_f1": 0.0, "onset_offset_f1": 0.0,
                                                             "precision": 0.0, "recall": 0.0}


def test_file_notes_reads_what_the_midi_file_sink_wrote(tmp_path):
    from rtmir.core.processor import Event
    from rtmir.midi.voice import VoiceConfig
    from rtmir.sinks.midi import MidiFileSink

    sink = MidiFileSink(tmp_path / "x.mid", VoiceConfig(onset_frames=1, release_frames=1))

    from rtmir.core.ports import Description, Port

    class Graph:  # one pitch node, as bind_graph reads it
        class Node:
            name = "p"
            desc = Description("p", (Port("audio", "audio", 1, 16000, 160),), (Port("events", "events", result="pitch"),))
        nodes = (Node,)

    sink.bind_graph(Graph)
    for k in range(100):
        voiced = 20 <= k < 60
        sink.send([Event("pitch", k / 100, {"f0_hz": 440.0 if voiced else 0.0, "voiced": voiced}, "p")])
    sink.close()
    intervals, pitches = file_notes(tmp_path / "x.mid")
    assert intervals == pytest.approx(np.array([[0.2, 0.6]]), abs=1e-3) and pitches == pytest.approx([440.0])


@pytest.mark.fluidsynth
def test_reference_notes_come_from_the_render(tmp_path):
    audio, intervals, pitches, instrument = reference_notes(1800, 4.0, "MuseScore_General")
    assert len(audio) == 4 * 44100 and np.abs(audio).max() > 0.01
    assert len(pitches) >= 2 and np.all(np.diff(intervals[:, 0]) > 0) and np.all(intervals[:, 1] > intervals[:, 0])
    assert np.all((pitches > 20) & (pitches < 5000)) and instrument
