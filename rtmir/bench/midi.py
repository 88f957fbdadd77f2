"""MIDI timing through a real audio server: each note-on and note-off on rtmir's JACK MIDI port
against the frame its declared latency puts it at, recorded by a second JACK client.

    Player (bursts into rtmir's input) ─► rtmir: LevelGate ─► voice ─► JackMidiSink ─► MidiRecorder
                                               [pitch model beside it, its own voice: load]

``LevelGate`` is an exact, model-free pitch node (voiced while a hop holds a sample over 0.1; its
voice decides in 2 frames, one decision hop), so
the figures measure the transport: the worker's jitter, the MIDI port's scheduling, JACK. A burst
starting in hop ``h`` must give its note-on at JACK frame ``h + latency + (JACK − stream offset)``,
its note-off at the first hop without it, plus the same. Stream time is corrected for cycles the
audio callback missed (``Player.slip_at``). Nothing here is real-time code.

    python -m rtmir.bench.midi --json out.json [--seconds 30] [--block 128] [--with-pitch]
    python -m rtmir.bench.midi --json out.json --notes      # the shipped transcriber on music instead

``--notes`` times the transcriber's own messages: the bundled demo clip (looped) plays into the
shipped notes model; a sink beside the JACK port records its events, an independent ``NoteVoice``
turns them into the messages the port must send, each due ``latency`` frames after the JACK
frame of the audio it describes (its ``t``), and the recorder's channels 1 and 10 are held to
them in order.

The figures go to the JSON file; a one-line summary is logged.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ..core.engine import Engine
from ..core.processor import Event, ProcessSpec, Processor
from ..hosts.live_host import LiveHost
from ..midi.voice import VoiceConfig
from ..sinks.midi_jack import JackMidiSink
from .e2e import _finish, _run_in_thread
from .jack import Player, jack_server, wait_for

log = logging.getLogger(__name__)
GATE_HOP = 480


class LevelGate(Processor):
    """Pitch frames from the level: voiced at 440 Hz when a hop of ``GATE_HOP`` samples holds a
    sample over 0.1; a hop's frame describes its first sample (latency one hop)."""

    task = "levelgate"
    result = "pitch"
    hop_size = GATE_HOP
    latency_samples = GATE_HOP

    def prepare(self, spec: ProcessSpec) -> None:
        self.rate = spec.sample_rate

    def reset(self) -> None:
        pass

    def process(self, block, t0, out=None):
        loud = np.abs(block[0]).reshape(-1, GATE_HOP).max(axis=1) > 0.1
        return [Event(self.task, (t0 + k * GATE_HOP) / self.rate, {"f0_hz": 440.0, "voiced": bool(v), "confidence": 1.0})
                for k, v in enumerate(loud)]


class MidiRecorder:
    """A JACK client recording every MIDI event on its input with its JACK frame time."""

    def __init__(self, server: str, name: str = "rtmir_midirec") -> None:
        import jack

        self.client = jack.Client(name, no_start_server=True, servername=server)
        self.port = self.client.midi_inports.register("in")
        self.events: list[tuple[int, bytes]] = []
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _process(self, frames: int) -> None:
        start = self.client.last_frame_time
        for offset, data in self.port.incoming_midi_events():
            self.events.append((start + offset, bytes(data)))

    def notes(self, channel: int | None = None) -> list[tuple[int, str, int]]:
        """(JACK frame, "on"/"off", note) of the note messages (of ``channel``), in order."""
        kind = {0x90: "on", 0x80: "off"}
        return [(f, kind[d[0] & 0xF0], d[1]) for f, d in self.events
                if d[0] & 0xF0 in kind and (channel is None or d[0] & 0x0F == channel)]

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def bursts(seconds: float, rate: int, seed: int = 0) -> list[tuple[int, int]]:
    """(start frame, length) of DC bursts of 50–400 ms with 60–300 ms rests, from 0.1 s on."""
    rng = np.random.default_rng(seed)
    out, at = [], int(0.1 * rate)
    while True:
        n = int(rng.uniform(0.05, 0.4) * rate)
        if at + n > (seconds - 0.5) * rate:
            return out
        out.append((at, n))
        at += n + int(rng.uniform(0.06, 0.3) * rate)


def burst_signal(spans: list[tuple[int, int]], seconds: float, rate: int) -> np.ndarray:
    x = np.zeros(int(seconds * rate), np.float32)
    for a, n in spans:
        x[a:a + n] = 0.5
    return x


def expected_notes(player: Player, spans: list[tuple[int, int]], latency: int) -> list[tuple[int, str, int]]:
    """The JACK frames the declared latency puts each burst's note-on and note-off at.

    Player sample ``j`` reaches rtmir's stream at frame ``start_frame + j − slip`` (``slip``: the
    frames of the cycles rtmir's callback missed by then, ``Player.slip_at``), and stream frame
    ``s`` entered the graph at JACK frame ``s + (jack_time − start_frame) + slip``. A message is
    due ``latency`` frames after the JACK frame of the hop that decides it (its first hop)."""
    offset = player.jack_time - player.start_frame  # JACK frame − stream frame, before any slip

    def jack_frame_of(stream: int) -> int:
        return stream + offset + int(player.slip_at([stream])[0])

    out = []
    for a, n in spans:
        first = player.start_frame + a
        first -= int(player.slip_at([first])[0])
        end = first + n
        on = first // GATE_HOP * GATE_HOP  # the hop holding the burst's first sample
        off = -(-end // GATE_HOP) * GATE_HOP  # the first hop with none of it
        out += [(jack_frame_of(on) + latency, "on", 69), (jack_frame_of(off) + latency, "off", 69)]
    return out


def timing_errors(got, want) -> list[int]:
    """Frames each recorded note message is off its due frame."""
    return [int(g[0] - w[0]) for g, w in zip(got, want)]


class EventLog:
    """A sink keeping every event it is given (the bench's record of what the engine decided)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def send(self, events: list[Event]) -> None:
        self.events += events

    def status(self, stats: dict) -> None:
        pass

    def close(self) -> None:
        pass


def demo_music(seconds: float, rate: int) -> np.ndarray:
    """The bundled demo clip at ``rate``, mono, looped to ``seconds``."""
    import soundfile as sf
    import soxr

    x, sr = sf.read(Path(__file__).resolve().parents[2] / "examples" / "audio" / "demo.flac", dtype="float32",
                    always_2d=True)
    x = soxr.resample(x.mean(axis=1), sr, rate).astype(np.float32)
    return np.resize(x, int(seconds * rate))


def expected_from_events(player: Player, events: list[Event], node: str, latency: int, rate: int) -> dict[int, list]:
    """Per MIDI channel, the (JACK frame, "on"/"off", note) the port must send for a notes node's
    events: an independent ``NoteVoice`` decides the messages, each due ``latency`` frames after
    the JACK frame of its ``t`` (``expected_notes``' mapping)."""
    from ..midi.notes import NoteVoice

    offset = player.jack_time - player.start_frame
    voice = NoteVoice(1, node)
    out: dict[int, list] = {}
    for e in events:
        if e.node != node:
            continue
        v = e.values
        for msg in voice.event(e.t, bool(v["on"]), int(v["pitch"]), int(v["velocity"]), bool(v["drum"])):
            stream = int(round(msg.t * rate))
            frame = stream + offset + int(player.slip_at([stream])[0]) + latency
            kind = "on" if msg.data[0] & 0xF0 == 0x90 else "off"
            out.setdefault(msg.data[0] & 0x0F, []).append((frame, kind, msg.data[1]))
    return out


def notes_timing(seconds: float = 30.0, block: int = 128, rate: int = 48000, server: str | None = None) -> dict:
    """The shipped transcriber live on the demo clip for ``seconds``; the timing of every message
    of its JACK MIDI port against its due frame (module docstring)."""
    from ..tasks.registry import build_processor

    music = demo_music(seconds, rate)
    with jack_server(server, rate, block) as (name, _started):
        log_sink = EventLog()
        sink = JackMidiSink("bench", VoiceConfig(channel=1), server=name)
        engine = Engine([build_processor("notes", None)], [sink, log_sink])
        host = LiveHost(block=block, sample_rate=rate, watchdog_seconds=5.0)
        rec = MidiRecorder(name)
        rec.client.connect(sink.name, rec.port)
        thread, stop, result = _run_in_thread(host, engine)
        player = Player(music, host, name)
        try:
            player.client.activate()
            wait_for(lambda: host.frames_in > 10 * block or "error" in result, 20, "first callbacks")
            player.wire_to_rtmir()
            player.armed = True
            wait_for(lambda: player.done or "error" in result, seconds + 20, "the clip")
            time.sleep(0.5)  # the last messages are due a latency after the clip's end
        finally:
            summary = _finish(thread, stop, result, [player.client])
            engine.close()
            rec.close()
    node = engine.nodes[0].name
    latency = sink.latency_frames[node]
    want = expected_from_events(player, log_sink.events, node, latency, rate)
    errors, same, due, recorded = [], True, 0, 0
    for channel, expected in want.items():
        got = rec.notes(channel)[:len(expected)]
        same &= [g[1:] for g in got] == [w[1:] for w in expected[:len(got)]]
        errors += timing_errors(got, expected)
        due, recorded = due + len(expected), recorded + len(got)
    errors = np.array(errors)
    ms = np.abs(errors) * 1000.0 / rate
    return {"seconds": seconds, "block": block, "sample_rate": rate, "notes": True,
            "messages_due": due, "messages_recorded": recorded, "sequence_matches": bool(same),
            "declared_latency_ms": 1000.0 * latency / rate, "exact": int(np.sum(errors == 0)),
            "within_1ms": int(np.sum(ms <= 1.0)), "p50_abs_ms": float(np.median(ms)) if len(ms) else None,
            "p99_abs_ms": float(np.percentile(ms, 99)) if len(ms) else None,
            "max_abs_ms": float(ms.max()) if len(ms) else None, "late": sink.late,
            "max_late_ms": 1000.0 * sink.max_late_frames / rate, "dropped": sink.dropped,
            "run": {k: summary.get(k) for k in ("xruns", "missed_hops", "callbacks")}}


def midi_timing(seconds: float = 30.0, block: int = 128, rate: int = 48000, with_pitch: bool = False,
                server: str | None = None, seed: int = 0) -> dict:
    """Run the gate (and, with ``with_pitch``, the shipped pitch model beside it) live for
    ``seconds`` of bursts; returns the timing of every gate note message against its due frame."""
    spans = bursts(seconds, rate, seed)
    with jack_server(server, rate, block) as (name, _started):
        processors = [LevelGate()]
        if with_pitch:
            from ..tasks.registry import build_processor

            processors.append(build_processor("pitch", None))
        sink = JackMidiSink("bench", VoiceConfig(onset_frames=2, release_frames=2, retrigger_frames=2), server=name)
        engine = Engine(processors, [sink])
        host = LiveHost(block=block, sample_rate=rate, watchdog_seconds=5.0)
        rec = MidiRecorder(name)
        rec.client.connect(sink.name, rec.port)
        thread, stop, result = _run_in_thread(host, engine)
        player = Player(burst_signal(spans, seconds, rate), host, name)
        try:
            player.client.activate()
            wait_for(lambda: host.frames_in > 10 * block or "error" in result, 20, "first callbacks")
            player.wire_to_rtmir()
            player.armed = True
            wait_for(lambda: player.done and len(rec.notes(0)) >= 2 * len(spans) or "error" in result,
                     seconds + 20, "the MIDI events")
        finally:
            summary = _finish(thread, stop, result, [player.client])
            engine.close()
            rec.close()
    latency = sink.latency_frames[engine.nodes[0].name]
    got, want = rec.notes(0), expected_notes(player, spans, latency)
    errors = np.array(timing_errors(got, want))
    ms = np.abs(errors) * 1000.0 / rate
    same = [g[1:] for g in got[:len(want)]] == [w[1:] for w in want]
    return {"seconds": seconds, "block": block, "sample_rate": rate, "with_pitch": with_pitch,
            "messages_due": len(want), "messages_recorded": len(got), "sequence_matches": same,
            "declared_latency_ms": 1000.0 * latency / rate, "exact": int(np.sum(errors == 0)),
            "within_1ms": int(np.sum(ms <= 1.0)), "p50_abs_ms": float(np.median(ms)) if len(ms) else None,
            "p99_abs_ms": float(np.percentile(ms, 99)) if len(ms) else None,
            "max_abs_ms": float(ms.max()) if len(ms) else None, "late": sink.late,
            "max_late_ms": 1000.0 * sink.max_late_frames / rate, "dropped": sink.dropped,
            "run": {k: summary.get(k) for k in ("xruns", "missed_hops", "callbacks")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtmir.bench.midi", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--with-pitch", action="store_true", help="run the shipped pitch model beside the gate (load)")
    ap.add_argument("--notes", action="store_true", help="time the shipped transcriber's messages on music instead")
    ap.add_argument("--json", required=True, help="write the figures here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.notes:
        out = notes_timing(args.seconds, args.block)
    else:
        out = midi_timing(args.seconds, args.block, with_pitch=args.with_pitch)
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    log.info("MIDI through JACK: %d of %d messages exact, %d within 1 ms, max %.2f ms, %d late, latency %.1f ms "
             "(xruns %s) -> %s", out["exact"], out["messages_due"], out["within_1ms"], out["max_abs_ms"] or 0.0,
             out["late"], out["declared_latency_ms"], out["run"]["xruns"], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
