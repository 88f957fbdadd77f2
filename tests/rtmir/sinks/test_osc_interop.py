"""OscSink against real third-party receivers started as processes: liblo's oscdump and Pure Data.

Each receiver's stdout is read by a thread into a queue; every wait is bounded. Needs Debian's
``liblo-tools`` (oscdump) and ``puredata-core`` (pd): missing tools fail, they do not skip.
"""
from __future__ import annotations

import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from rtmir.core.processor import Event
from rtmir.sinks.osc import OscSink
from rtmir.sinks.osc_format import ntp_timetag

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[3]
PD_PATCH = REPO / "examples" / "pd" / "rtmir_receive.pd"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A receiver process whose output lines are collected by a reader thread."""

    def __init__(self, argv: list[str]) -> None:
        tool = shutil.which(argv[0])
        assert tool, f"{argv[0]} not found: install liblo-tools and puredata-core (apt-get)"
        self.proc = subprocess.Popen(
            [tool, *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate, count: int = 1, timeout: float = 5.0, poke=None) -> list[str]:
        """Lines matching ``predicate`` until ``count`` arrived; ``poke()`` is called every 50 ms."""
        deadline = time.monotonic() + timeout
        found = [line for line in self.seen if predicate(line)]
        while len(found) < count:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None, f"receiver gave {self.seen[-20:]} (rc={self.proc.poll()})"
            if poke:
                poke()
            try:
                line = self.lines.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                found.append(line)
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=2)
        self.proc.stdout.close()


@pytest.fixture
def oscdump():
    port = free_udp_port()
    rx = Receiver(["oscdump", "-L", str(port)])
    rx.port = port
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # oscdump prints nothing when it starts: poke it until a probe message comes out.
    ping = b"/ready\x00\x00,\x00\x00\x00"
    try:
        rx.wait_for(lambda line: "/ready" in line, poke=lambda: probe.sendto(ping, ("127.0.0.1", port)))
        yield rx
    finally:
        probe.close()
        rx.stop()


@pytest.fixture
def pd():
    port = free_udp_port()
    rx = Receiver(["pd", "-nogui", "-noaudio", "-nrt", "-stderr", "-send", f"rtmir-port {port}", "-open", str(PD_PATCH)])
    rx.port = port
    try:
        rx.wait_for(lambda line: line == f"rtmir_receive: listening on port {port}", timeout=8.0)
        yield rx
    finally:
        rx.stop()


def parse_oscdump(line: str) -> tuple[str, str, str, list]:
    """``"<sec>.<frac> /addr types args..."`` → (timetag hex, address, types, values)."""
    timetag, address, types, *rest = line.split(" ", 3)
    values = re.findall(r'"[^"]*"|\S+', rest[0]) if rest else []
    out = [v[1:-1] if v.startswith('"') else (int(v) if t == "i" else float(v)) for t, v in zip(types, values)]
    return timetag, address, types, out


def hexstamp(timetag: int) -> str:
    return f"{timetag >> 32:08x}.{timetag & 0xFFFFFFFF:08x}"


def test_oscdump_receives_timed_bundles_types_and_values(oscdump):
    epoch = time.time() - 10.0  # past timetags: oscdump prints them at once
    tags = {"piano": 0.5, "bass guitar": 0.25, "drums": 0.1}
    with OscSink("127.0.0.1", oscdump.port, timetag_epoch=epoch) as sink:
        sink.send([
            Event("yin", 0.01, {"f0_hz": 440.0, "voiced": True, "confidence": 0.9}),
            Event("tags", 0.01, {"tags": tags}),
            Event("yin", 0.02, {"f0_hz": 300.0, "voiced": False, "confidence": 0.2}),
        ])
        sink.status({"xruns": 2**40, "missed_hops": 3, "cpu_load": 0.25, "latency_ms": 12.5})
    got = [parse_oscdump(line) for line in oscdump.wait_for(lambda line: "/rtmir/" in line, count=7)]
    by_hop = {ts: [g[1:] for g in got if g[0] == ts] for ts in (hexstamp(ntp_timetag(epoch + 0.01)), hexstamp(ntp_timetag(epoch + 0.02)))}
    first, second = by_hop.values()
    assert first[0] == ("/rtmir/pitch", "fff", pytest.approx([440.0, 0.9, 69.0], abs=1e-6))
    assert first[1] == ("/rtmir/tags", "sfsfsf", ["piano", 0.5, "bass guitar", 0.25, "drums", pytest.approx(0.1, abs=1e-6)])
    assert [m[:2] for m in first[2:]] == [("/rtmir/tag/piano", "f"), ("/rtmir/tag/bass_guitar", "f"), ("/rtmir/tag/drums", "f")]
    assert second == [("/rtmir/pitch", "fff", [0.0, pytest.approx(0.2, abs=1e-6), 0.0])]
    status = [g for g in got if g[1] == "/rtmir/status"]
    assert [s[2:] for s in status] == [("iiff", [2**31 - 1, 3, 0.25, 12.5])]


def test_oscdump_receives_note_changes_with_their_stem(oscdump):
    epoch = time.time() - 10.0
    with OscSink("127.0.0.1", oscdump.port, timetag_epoch=epoch) as sink:
        sink.send([Event("notes", 0.5, {"on": 1, "pitch": 64, "velocity": 101, "drum": 0}),
                   Event("notes", 0.5, {"on": 1, "pitch": 42, "velocity": 70, "drum": 1}),
                   Event("notes", 0.75, {"on": 0, "pitch": 64, "velocity": 0, "drum": 0})])
    # closing the sink ends the drum hit still on (at once: timetag "immediately")
    got = [parse_oscdump(line) for line in oscdump.wait_for(lambda line: "/rtmir/note" in line, count=4)]
    assert [g[1:] for g in got] == [("/rtmir/note", "iiis", [1, 64, 101, "notes"]),
                                    ("/rtmir/note", "iiis", [1, 42, 70, "drums"]),
                                    ("/rtmir/note", "iiis", [0, 64, 0, "notes"]),
                                    ("/rtmir/note", "iiis", [0, 42, 0, "drums"])]
    assert got[0][0] == got[1][0] == hexstamp(ntp_timetag(epoch + 0.5)) != got[2][0]


def test_oscdump_immediate_and_future_bundles(oscdump):
    now = time.time()
    with OscSink("127.0.0.1", oscdump.port, timetag_epoch=now + 0.4) as future, OscSink("127.0.0.1", oscdump.port) as asap:
        future.send([Event("yin", 0.0, {"f0_hz": 220.0, "voiced": True, "confidence": 1.0})])
        asap.send([Event("yin", 5.0, {"f0_hz": 110.0, "voiced": True, "confidence": 1.0})])
    first, second = oscdump.wait_for(lambda line: "/rtmir/pitch" in line, count=2)
    # "immediately" is printed at once (liblo shows the arrival time), the future bundle when due.
    assert parse_oscdump(first)[3][0] == 110.0
    assert abs(int(parse_oscdump(first)[0].split(".")[0], 16) - (int(now) + 2_208_988_800)) <= 2
    assert parse_oscdump(second)[0] == hexstamp(ntp_timetag(now + 0.4))
    assert time.time() >= now + 0.3


def test_pure_data_patch_parses_pitch_tags_stems_codec_generate_and_status(pd):
    with OscSink("127.0.0.1", pd.port, timetag_epoch=time.time()) as sink:
        sink.send([
            Event("pitch", 0.00, {"f0_hz": 261.6256, "voiced": True, "confidence": 0.8}),
            Event("tags", 0.00, {"tags": {"piano": 0.5, "drums": 0.125, "voice": 0.0625}}),
            Event("pitch", 0.01, {"f0_hz": 100.0, "voiced": False, "confidence": 0.3}),
            Event("separate", 0.01, {"levels_dbfs": {"drums": -6.0, "bass": -12.5, "other": -30.0, "melody": -3.25}}),
            Event("codec", 0.02, {"tokens": [611, 746, 359, 1024], "stages": 3, "lost": 2}),
            Event("generate", 0.03, {"state": [1.0, 2.5, 3.0]}),
            Event("notes", 0.04, {"on": 1, "pitch": 60, "velocity": 90, "drum": 0}),
            Event("notes", 0.05, {"on": 0, "pitch": 36, "velocity": 0, "drum": 1}),
        ])
        sink.status({"xruns": 4, "missed_hops": 1, "cpu_load": 0.5, "latency_ms": 7.25,
                     "nodes": {"generate": {"tokens_per_s": 2196.5, "buffer_ahead_ms": 21.25}}})
    pitch = [line.split(": ", 1)[1].split() for line in pd.wait_for(lambda line: line.startswith("rtmir-pitch:"), count=2)]
    assert [float(v) for v in pitch[0]] == pytest.approx([261.6256, 0.8, 60.0], rel=1e-5)
    assert [float(v) for v in pitch[1]] == pytest.approx([0.0, 0.3, 0.0], abs=1e-6)
    (tags,) = pd.wait_for(lambda line: line.startswith("rtmir-tags:"))
    words = tags.split(": ", 1)[1].split()
    words = words[1:] if words[0] == "list" else words
    assert words == ["piano", "0.5", "drums", "0.125", "voice", "0.0625"]
    (status,) = pd.wait_for(lambda line: line.startswith("rtmir-status:"))
    assert status == "rtmir-status: 4 1 0.5 7.25"
    # the tags view: /rtmir/tag/<family> moves that family's bar, which passes its value on
    view = pd.wait_for(lambda line: line.startswith("rtmir-tagview:"), count=3)
    assert sorted(line.split(": ", 1)[1].replace("list ", "") for line in view) == ["drums 0.125", "piano 0.5", "voice 0.0625"]
    # the stems view: /rtmir/sep/<stem> moves that stem's meter (-60..0 dBFS)
    meters = pd.wait_for(lambda line: line.startswith("rtmir-sepview:"), count=4)
    assert sorted(line.split(": ", 1)[1].replace("list ", "") for line in meters) == [
        "bass -12.5", "drums -6", "melody -3.25", "other -30"]
    # the codec view: /rtmir/codec/tokens (a code per stage), /rtmir/codec/stages, /rtmir/codec/lost
    codec = pd.wait_for(lambda line: line.startswith("rtmir-codecview:"), count=3)
    assert sorted(line.split(": ", 1)[1].replace("list ", "") for line in codec) == [
        "lost 2", "stages 3", "tokens 611 746 359 1024"]
    # the generate view: /rtmir/generate/state playing position takes
    # and the host's /rtmir/generate/live tokens_per_s buffer_ahead_ms (with the status record)
    gen = pd.wait_for(lambda line: line.startswith("rtmir-genview:"), count=2)
    assert sorted(gen) == ["rtmir-genview: live 2196.5 21.25", "rtmir-genview: state 1 2.5 3"]
    # the notes view: /rtmir/note on pitch velocity stem (a drum hit's stem is "drums")
    notes = pd.wait_for(lambda line: line.startswith("rtmir-noteview:"), count=2)
    assert [line.split(": ", 1)[1].replace("list ", "") for line in notes] == ["1 60 90 notes", "0 36 0 drums"]
    assert not [line for line in pd.seen if "error" in line.lower()], pd.seen



def test_liblo_oscsend_drives_the_control_server():
    from rtmir.control import ControlServer

    tool = shutil.which("oscsend")
    assert tool, "oscsend not found: install liblo-tools"

    class Engine:
        def __init__(self):
            self.calls = []

        def reset(self):
            self.calls.append("reset")

        def apply_control(self, task, param, value):
            self.calls.append((task, param, value))

    with ControlServer(port=0) as control:
        subprocess.run([tool, "localhost", str(control.port), "/rtmir/ctl/yin/threshold", "f", "0.15"], check=True, timeout=5)
        subprocess.run([tool, "localhost", str(control.port), "/rtmir/ctl/reset"], check=True, timeout=5)
        subprocess.run([tool, "localhost", str(control.port), "/rtmir/ctl/yin/threshold", "s", "high"], check=True, timeout=5)
        deadline = time.monotonic() + 2.0
        while control.received < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        engine = Engine()
        control.drain(engine)
    assert engine.calls == [("yin", "threshold", pytest.approx(0.15)), "reset"]
    assert control.malformed == 1


def test_pd_patch_says_listening_only_after_a_probe_came_back_and_says_when_the_port_is_taken():
    """The patch sends itself a probe after `listen`: "listening on port N" means a datagram to N
    reached it; when another program holds N, it says the port is taken instead."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("0.0.0.0", 0))
    port = taken.getsockname()[1]
    rx = Receiver(["pd", "-nogui", "-noaudio", "-nrt", "-stderr", "-send", f"rtmir-port {port}", "-open", str(PD_PATCH)])
    try:
        rx.wait_for(lambda line: line == f"rtmir_receive: port {port} is taken - bind failed (see the error above)",
                    timeout=8.0)
        assert not any("listening on port" in line for line in rx.seen), rx.seen
    finally:
        rx.stop()
        taken.close()
