"""LiveHost against a real JACK server (dummy driver): deterministic freewheel results, real-time
xruns relative to a bare pass-through stream, device loss, and clear device errors.

Run: ``pytest -m jack tests/rtmir/hosts`` (jackd2 must be installed; the fixture fails otherwise).
"""
from __future__ import annotations

import json
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jack_tools import PERIOD, RATE, SERVER, CaptureSink, wait_for
from rtmir.core.engine import Engine
from rtmir.hosts.live_host import AudioDeviceError, DeviceLostError, LiveHost  # noqa: F401
from rtmir.sinks.osc import OscSink
from rtmir.sinks.osc_format import NTP_UNIX_OFFSET_S
from rtmir.tasks.yin import YinProcessor

pytestmark = pytest.mark.jack
HERE = Path(__file__).resolve().parent

# 3 tones of 1 s with short silences around them: (start s, end s, Hz) in signal time.
TONES = [(0.25, 1.25, 220.0), (1.5, 2.5, 330.0), (2.75, 3.75, 440.0)]
SIGNAL_S = 4.25


def tone_signal() -> np.ndarray:
    t = np.arange(int(SIGNAL_S * RATE)) / RATE
    x = np.zeros_like(t)
    for start, end, hz in TONES:
        on = (t >= start) & (t < end)
        x[on] = 0.5 * np.sin(2 * np.pi * hz * (t[on] - start))
    return x.astype(np.float32)


class OscReceiver(threading.Thread):
    """UDP receiver keeping ``(timetag unix seconds, address, args)`` of every bundled message."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.messages: list[tuple[float, str, list]] = []
        self.running = True

    def run(self) -> None:
        from pythonosc.osc_bundle import OscBundle

        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not OscBundle.dgram_is_bundle(data):
                continue
            tt = struct.unpack(">Q", data[8:16])[0] / 2**32 - NTP_UNIX_OFFSET_S
            for msg in OscBundle(data):
                self.messages.append((tt, msg.address, list(msg.params)))

    def stop(self) -> None:
        self.running = False
        self.join(2)
        self.sock.close()


class Player:
    """A JACK client playing ``signal`` once armed; notes rtmir's stream frame at its first sample.

    In freewheel JACK runs the graph in order (player → PortAudio) and waits for it, so the
    frames rtmir has received when the player's first signal cycle runs is exactly where the
    signal starts in rtmir's stream time.
    """

    def __init__(self, signal: np.ndarray, host: LiveHost) -> None:
        import jack

        self.signal, self.host = signal, host
        self.client = jack.Client("rtmir_player", no_start_server=True, servername=SERVER)
        self.port = self.client.outports.register("out")
        self.armed = self.done = False
        self.pos, self.start_frame = 0, None
        self.freewheel = threading.Event()
        self.freewheel_on = False
        self.client.set_process_callback(self._process)
        self.client.set_freewheel_callback(self._freewheel)

    def _freewheel(self, starting: bool) -> None:
        self.freewheel_on = starting
        self.freewheel.set()

    def _process(self, frames: int) -> None:
        buf = self.port.get_array()
        if not self.armed or self.done:
            buf.fill(0.0)
            return
        if self.start_frame is None:
            self.start_frame = self.host.frames_in
        chunk = self.signal[self.pos:self.pos + frames]
        buf[:len(chunk)] = chunk
        buf[len(chunk):] = 0.0
        self.pos += frames
        self.done = self.pos >= len(self.signal)

    def wire_to_rtmir(self) -> None:
        """Replace PortAudio's auto-connection to system:capture_* by player → rtmir input."""
        ours = self.port.name
        rtmir_in = [p for p in self.client.get_ports(is_audio=True, is_input=True)
                    if not p.name.startswith(("system:", "rtmir_player:"))]
        assert len(rtmir_in) == 1, f"expected one PortAudio input port, got {[p.name for p in rtmir_in]}"
        for other in self.client.get_all_connections(rtmir_in[0]):
            self.client.disconnect(other, rtmir_in[0])
        self.client.connect(ours, rtmir_in[0])

    def set_freewheel(self, on: bool) -> None:
        self.freewheel.clear()
        self.client.set_freewheel(on)
        assert self.freewheel.wait(5), "JACK did not confirm the freewheel change"
        assert self.freewheel_on is on


def offline_events(signal: np.ndarray, start_frame: int, total_frames: int) -> list:
    """The same YIN over the same stream (silence, signal at ``start_frame``, silence), offline."""
    stream = np.zeros(total_frames, np.float32)
    stream[start_frame:start_frame + len(signal)] = signal
    sink = CaptureSink()
    engine = Engine([YinProcessor()], [sink])
    engine.prepare(RATE, 1, 4096)
    for i in range(0, total_frames, 4096):
        engine.push(stream[None, i:i + 4096].copy())
    return sink.events


def run_in_thread(host: LiveHost, engine: Engine, **kwargs) -> tuple[threading.Thread, threading.Event, dict]:
    stop, result = threading.Event(), {}

    def target() -> None:
        try:
            result["summary"] = host.run(engine, stop=stop.is_set, **kwargs)
        except Exception as exc:  # reported by the test through result["error"]
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, stop, result


def test_freewheel_yin_events_over_osc_match_offline(jack_server, record_property):
    signal = tone_signal()
    receiver = OscReceiver()
    receiver.start()
    osc = OscSink("127.0.0.1", receiver.port)
    engine = Engine([YinProcessor()], [osc])
    host = LiveHost(block=PERIOD, ring_seconds=SIGNAL_S + 4.0, watchdog_seconds=5.0)
    thread, stop, result = run_in_thread(host, engine, on_epoch=lambda e: setattr(osc, "timetag_epoch", e))
    player = Player(signal, host)
    try:
        player.client.activate()
        wait_for(lambda: host.frames_in > 10 * PERIOD or "error" in result, 10, "first callbacks")
        player.wire_to_rtmir()
        player.set_freewheel(True)
        player.armed = True
        wait_for(lambda: player.done, 20, "the player to finish in freewheel")
        tail_end = host.frames_in + RATE // 2  # half a second of silence after the signal
        wait_for(lambda: host.frames_in >= tail_end, 20, "the silent tail")
        player.set_freewheel(False)
        wait_for(lambda: host.frames_processed >= tail_end, 20, "the worker to drain")
    finally:
        stop.set()
        thread.join(15)
        player.client.deactivate()
        player.client.close()
        engine.close()
        time.sleep(0.2)
        receiver.stop()
    assert "error" not in result, result.get("error")
    summary = result["summary"]
    assert summary["missed_blocks"] == 0
    _check_yin(receiver.messages, host.timetag_epoch, player.start_frame, signal, summary, record_property)


def _check_yin(messages, epoch, start_frame, signal, summary, record_property) -> None:
    live = {round(tt - epoch, 4): args for tt, addr, args in messages if addr == "/rtmir/pitch"}
    processed = int(round(summary["seconds"] * RATE))
    offline = [e for e in offline_events(signal, start_frame + int(os.environ.get("SHIFT", 0)), processed) if e.t >= 0]
    # every event the offline pass gives, arrived, at the same t, with the same value
    missing = [e.t for e in offline if round(e.t, 4) not in live]
    assert not missing, f"{len(missing)} of {len(offline)} events missing, first at t={missing[:5]}"
    steady, worst_cents = 0, 0.0
    for e in offline:
        f0, conf, _midi = live[round(e.t, 4)]
        assert (f0 > 0) == bool(e.values["voiced"]), f"voicing differs at t={e.t}"
        if e.values["voiced"]:
            assert f0 == pytest.approx(e.values["f0_hz"], rel=1e-5)
        s = e.t - start_frame / RATE  # signal time described by the event
        for start, end, hz in TONES:
            if start + 0.05 <= s <= end - 0.05:  # steady part: frame (36 ms) fully inside the tone
                cents = abs(1200 * math.log2(f0 / hz)) if f0 > 0 else float("inf")
                assert cents <= 10, f"t={e.t:.3f}: {f0:.2f} Hz for {hz} Hz ({cents:.1f} cents)"
                steady, worst_cents = steady + 1, max(worst_cents, cents)
    assert steady >= 3 * 85, f"only {steady} steady-part events"
    record_property("freewheel_events", len(offline))
    record_property("freewheel_steady_events", steady)
    record_property("freewheel_worst_cents", round(worst_cents, 3))
    record_property("freewheel_signal_start_frame", start_frame)
