"""``--midi jack:NAME`` through a real JACK server (dummy driver): a second JACK client records the
MIDI events with their frame times. In freewheel every note-on and note-off lands exactly the
declared latency after the audio that caused it entered rtmir's input; in real time within 1 ms
or counted late; stopping mid-note never leaves a note hanging."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jack_tools import PERIOD, RATE, SERVER, Player, jack_server, run_in_thread, wait_for  # noqa: F401  (fixture)
from rtmir.core.engine import Engine
from rtmir.core.processor import Event, ProcessSpec, Processor
from rtmir.hosts.live_host import LiveHost
from rtmir.midi.voice import VoiceConfig
from rtmir.sinks.midi_jack import JackMidiSink

pytestmark = pytest.mark.jack

HOP = 480
#: bursts of DC (start frame, length) in the player's signal; a hop with any burst sample is voiced
BURSTS = [(2000, 9000), (20011, 4801), (31000, 12000), (50500, 7777)]


class LevelPitch(Processor):
    """Pitch frames from the level: voiced at 440 Hz when a hop holds a sample over 0.1 (an
    exact, model-free tracker, so the test measures the MIDI transport alone)."""

    task = "levelpitch"
    result = "pitch"
    hop_size = HOP
    latency_samples = HOP  # a hop's frame describes the hop's start

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        loud = np.abs(block[0]).reshape(-1, HOP).max(axis=1) > 0.1
        return [Event(self.task, (t0 + k * HOP) / self.rate, {"f0_hz": 440.0, "voiced": bool(v), "confidence": 1.0})
                for k, v in enumerate(loud)]


class MidiRecorder:
    """A JACK client recording every MIDI event on its input with its JACK frame time."""

    def __init__(self) -> None:
        import jack

        self.client = jack.Client("rtmir_midirec", no_start_server=True, servername=SERVER)
        self.port = self.client.midi_inports.register("in")
        self.events: list[tuple[int, bytes]] = []
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        start = self.client.last_frame_time
        for offset, data in self.port.incoming_midi_events():
            self.events.append((start + offset, bytes(data)))

    def notes(self) -> list[tuple[int, str, int]]:
        """(JACK frame, "on"/"off", note) of the note messages, in order."""
        kind = {0x90: "on", 0x80: "off"}
        return [(f, kind[d[0] & 0xF0], d[1]) for f, d in self.events if d[0] & 0xF0 in kind]

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def signal() -> np.ndarray:
    x = np.zeros(BURSTS[-1][0] + BURSTS[-1][1] + RATE // 2, np.float32)
    for a, n in BURSTS:
        x[a:a + n] = 0.5
    return x


def expected_frames(player: Player, latency: int) -> list[tuple[int, str, int]]:
    """The JACK frames the declared latency puts each note-on and note-off at."""
    offset = player.jack_time - player.start_frame  # JACK frame − stream frame
    out = []
    for a, n in BURSTS:
        first, end = player.start_frame + a, player.start_frame + a + n
        on = first // HOP * HOP  # the hop holding the burst's first sample
        off = -(-end // HOP) * HOP  # the first hop with none of it
        out += [(on + latency + offset, "on", 69), (off + latency + offset, "off", 69)]
    return out


def run_live(host: LiveHost, engine: Engine, sink: JackMidiSink, freewheel: bool, until):
    recorder = MidiRecorder()
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
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2), server=SERVER)
    engine = Engine([LevelPitch()], [sink])
    # freewheel runs JACK as fast as the clients: the worker falls behind by design, so the slack
    # (output latency) must cover it, as in the freewheel audio tests
    slack_blocks = math.ceil(6 * len(signal()) / PERIOD)
    host = LiveHost(block=PERIOD, output_latency_blocks=slack_blocks, ring_seconds=20.0, watchdog_seconds=5.0,
                    deadline_ms=math.inf)
    player, rec, summary = run_live(host, engine, sink, True, lambda r, p: len(r.notes()) >= 2 * len(BURSTS))
    latency = sink.latency_frames[engine.nodes[0].name]
    # declared: the node's own (a hop: 480) + the host block (128) + one decision hop + the slack
    assert latency == HOP + PERIOD + HOP + slack_blocks * PERIOD
    got, want = rec.notes(), expected_frames(player, latency)
    record_property("midi_freewheel_errors_frames", [g[0] - w[0] for g, w in zip(got, want)])
    assert got[:len(want)] == want
    assert sink.late == 0 and sink.dropped == 0


def test_realtime_notes_are_within_a_millisecond_of_the_declared_latency_or_counted_late(jack_server,
                                                                                          record_property):
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2), server=SERVER)
    engine = Engine([LevelPitch()], [sink])
    host = LiveHost(block=PERIOD, watchdog_seconds=5.0)
    done = lambda r, p: p.done and len(r.notes()) >= 2 * len(BURSTS)  # noqa: E731
    player, rec, summary = run_live(host, engine, sink, False, done)
    latency = sink.latency_frames[engine.nodes[0].name]
    record_property("midi_latency_ms", 1000 * latency / RATE)
    got, want = rec.notes(), expected_frames(player, latency)
    # a JACK cycle rtmir's callback missed shifts stream time against JACK time (Player.slip_at)
    slips = player.slip_at([w[0] - latency - (player.jack_time - player.start_frame) for w in want])
    errors = [int(g[0] - (w[0] - s)) for g, w, s in zip(got, want, slips)]
    record_property("midi_realtime_errors_frames", errors)
    record_property("midi_late", sink.late)
    assert [g[1:] for g in got[:len(want)]] == [w[1:] for w in want]
    on_time = [e for e in errors if abs(e) <= RATE // 1000]
    assert len(on_time) >= len(errors) - sink.late - summary["xruns"]  # every other one is counted


def test_stopping_mid_note_ends_the_note(jack_server):
    sink = JackMidiSink("voice", VoiceConfig(onset_frames=2, release_frames=2), server=SERVER)
    engine = Engine([LevelPitch()], [sink])
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
        recorder = MidiRecorder()
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
