"""``--midi jack:NAME`` through a real JACK server (dummy driver): a second JACK client records the
MIDI events with their frame times. In freewheel every note-on and note-off lands exactly the
declared latency after the audio that caused it entered rtmir's input; in real time within 1 ms
or counted late; stopping mid-note never leaves a note hanging."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jack_tools import PERIOD, RATE, SERVER, Player, jack_server, run_in_thread, wait_for  # noqa: F401  (fixture)
from rtmir.bench.midi import GATE_HOP as HOP, LevelGate, MidiRecorder, burst_signal, expected_notes, timing_errors
from rtmir.core.engine import Engine
from rtmir.hosts.live_host import LiveHost
from rtmir.midi.voice import VoiceConfig
from rtmir.sinks.midi_jack import JackMidiSink

pytestmark = pytest.mark.jack

#: bursts of DC (start frame, length) in the player's signal; a hop with any burst sample is voiced
BURSTS = [(2000, 9000), (20011, 4801), (31000, 12000), (50500, 7777)]


def signal() -> np.ndarray:
    return burst_signal(BURSTS, (BURSTS[-1][0] + BURSTS[-1][1]) / RATE + 0.5, RATE)


def run_live(host: LiveHost, engine: Engine, sink: JackMidiSink, freewheel: bool, until):
    recorder = MidiRecorder(SERVER)
    recorder.client.connect(sink.name, recorder.port)
    thread, stop, result = run_in_thread(host, engine)
    player = Player(signal(), host, server=SERVER)
    try:
        player.client.activate()
        wait_for(lambda: host.frames_in > 10 * PERIOD or "error" in result, 10, "first callbacks")
        player.wire_to_rtmir()
        if freewheel:
            player.set_freewheel(True)
        player.armed = True
        wait_for(lambda: until(recorder, player) or "error" in result, 60, "the MIDI events")
    finally:
        if player.freewheel_on:
            player.set_freewheel(False)
        stop.set()
        thread.join(15)
        engine.close()
        player.client.deactivate()
        player.client.close()
        recorder.close()
    assert "error" not in result, result.get("error")
    return player, recorder, result["summary"]


def test_freewheel_every_note_lands_exactly_the_declared_latency_after_its_audio(jack_server, record_property):
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2, retrigger_frames=2), server=SERVER)
    engine = Engine([LevelGate()], [sink])
    # freewheel runs JACK as fast as the clients: the worker falls behind by design, so the slack
    # (output latency) must cover it, as in the freewheel audio tests
    slack_blocks = math.ceil(6 * len(signal()) / PERIOD)
    host = LiveHost(block=PERIOD, output_latency_blocks=slack_blocks, ring_seconds=20.0, watchdog_seconds=5.0,
                    deadline_ms=math.inf)
    player, rec, summary = run_live(host, engine, sink, True, lambda r, p: len(r.notes()) >= 2 * len(BURSTS))
    latency = sink.latency_frames[engine.nodes[0].name]
    # declared: the node's own (a hop: 480) + the host block (128) + one decision hop + the slack
    assert latency == HOP + PERIOD + HOP + slack_blocks * PERIOD
    got, want = rec.notes(), expected_notes(player, BURSTS, latency)
    record_property("midi_freewheel_errors_frames", [g[0] - w[0] for g, w in zip(got, want)])
    assert got[:len(want)] == want
    assert sink.late == 0 and sink.dropped == 0


def test_realtime_notes_are_within_a_millisecond_of_the_declared_latency_or_counted_late(jack_server,
                                                                                          record_property):
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2, retrigger_frames=2), server=SERVER)
    engine = Engine([LevelGate()], [sink])
    host = LiveHost(block=PERIOD, watchdog_seconds=5.0)
    done = lambda r, p: p.done and len(r.notes()) >= 2 * len(BURSTS)  # noqa: E731
    player, rec, summary = run_live(host, engine, sink, False, done)
    latency = sink.latency_frames[engine.nodes[0].name]
    record_property("midi_latency_ms", 1000 * latency / RATE)
    got, want = rec.notes(), expected_notes(player, BURSTS, latency)
    errors = timing_errors(got, want)  # cycles rtmir's callback missed are in `want` (Player.slip_at)
    record_property("midi_realtime_errors_frames", errors)
    record_property("midi_late", sink.late)
    assert [g[1:] for g in got[:len(want)]] == [w[1:] for w in want]
    on_time = [e for e in errors if abs(e) <= RATE // 1000]
    assert len(on_time) >= len(errors) - sink.late - summary["xruns"]  # every other one is counted


def test_stopping_mid_note_ends_the_note(jack_server):
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2, retrigger_frames=2), server=SERVER)
    engine = Engine([LevelGate()], [sink])
    host = LiveHost(block=PERIOD, watchdog_seconds=5.0)

    def in_first_burst(rec, player) -> bool:  # stop while the first burst's note is sounding
        return any(n[1] == "on" for n in rec.notes())

    player, rec, _ = run_live(host, engine, sink, False, in_first_burst)
    notes = rec.notes()
    assert [n[1:] for n in notes] == [("on", 69), ("off", 69)]  # the off came from close
    assert notes[1][0] - notes[0][0] < BURSTS[0][1]  # before the burst would have ended it


def test_cli_pitch_model_plays_a_melody_as_midi_on_a_jack_port(jack_server, tmp_path):
    """`rtmir live --task pitch --midi jack:voice --play melody.wav`: the shipped model's voice,
    recorded by another JACK client: every note played sounds (note + bend) while it is held,
    nothing hangs after the run, and the summary line gives the port's declared latency."""
    import subprocess
    import sys
    import time

    import jack
    import mido

    from test_midi_file import SCORE, render

    wav = tmp_path / "melody.wav"
    render(wav)
    proc = subprocess.Popen([sys.executable, "-m", "rtmir", "live", "--no-display", "--task", "pitch", "--play", str(wav),
                             "--midi", "jack:voice"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        finder = jack.Client("rtmir_finder", no_start_server=True, servername=SERVER)
        wait_for(lambda: finder.get_ports("rtmir-midi:voice") or proc.poll() is not None, 30, "the MIDI port")
        finder.close()
        recorder = MidiRecorder(SERVER)
        recorder.client.connect("rtmir-midi:voice", recorder.port)
        out, err = proc.communicate(timeout=60)
        time.sleep(0.1)
        recorder.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "rtmir: MIDI rtmir-midi:voice:" in err and " 0 dropped" in err, err
    first = min(f for f, d in recorder.events if d[0] & 0xF0 == 0x90)
    sounding, note, bend = [], None, 0
    for f, d in recorder.events:
        msg = mido.Message.from_bytes(list(d))
        if msg.type == "note_on" and msg.velocity:
            note = msg.note
        elif msg.type == "note_off" and msg.note == note:
            note = None
        elif msg.type == "pitchwheel":
            bend = msg.pitch
        sounding.append((f, note, bend))
    assert sounding[-1][1] is None  # nothing hangs
    # the file starts at its first note (0.30 s): score times are relative to the first note-on
    for midi, a, b in SCORE:
        at = first + round((((a + b) / 2) - SCORE[0][1]) * RATE)
        state = [s for s in sounding if s[0] <= at][-1]
        assert state[1] is not None and abs(state[1] + state[2] / 8192 * 2 - midi) < 0.5, (midi, state)


def test_the_midi_benchmark_reports_every_message_on_time_or_late(jack_server):
    from rtmir.bench.midi import midi_timing

    out = midi_timing(3.0, server=SERVER)
    assert out["sequence_matches"] and out["messages_recorded"] == out["messages_due"] >= 8
    assert out["within_1ms"] + out["late"] + out["run"]["xruns"] >= out["messages_due"]
    assert out["declared_latency_ms"] == pytest.approx(1000 * (HOP + PERIOD + HOP + 2 * PERIOD) / RATE)


def test_cli_notes_model_connects_its_port_and_every_note_ends(jack_server, tmp_path):
    """`rtmir live --task notes --play music.wav --midi jack:notes --midi-connect rtmir_midirec:in`:
    the transcriber's notes reach a JACK client rtmir connected itself (from the first message on),
    every note-on is ended by the end of the run; a destination that does not exist is one line
    and exit 2."""
    import subprocess
    import sys
    import time

    import soundfile as sf

    from music_signal import music

    wav = tmp_path / "music.wav"
    sf.write(wav, np.tile(music(), 2), 16000)
    recorder = MidiRecorder(SERVER)
    try:
        r = subprocess.run([sys.executable, "-m", "rtmir", "live", "--no-display", "--task", "notes", "--play", str(wav),
                            "--midi", "jack:notes", "--midi-connect", recorder.port.name], capture_output=True, text=True,
                           timeout=90)
        time.sleep(0.1)
    finally:
        recorder.close()
    assert r.returncode == 0, r.stderr
    assert "rtmir: MIDI rtmir-midi:notes:" in r.stderr and " 0 dropped" in r.stderr, r.stderr
    on = set()
    for _, d in recorder.events:
        if d[0] & 0xF0 == 0x90 and d[2]:
            on.add((d[0] & 0x0F, d[1]))
        elif d[0] & 0xF0 in (0x80, 0x90):
            on.discard((d[0] & 0x0F, d[1]))
    assert sum(1 for _, d in recorder.events if d[0] & 0xF0 == 0x90) >= 3 and not on
    bad = subprocess.run([sys.executable, "-m", "rtmir", "live", "--no-display", "--task", "notes", "--seconds", "1",
                          "--midi", "jack:notes", "--midi-connect", "nobody:in"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("rtmir: error: --midi-connect nobody:in")
