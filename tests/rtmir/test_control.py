"""ControlServer: OSC control datagrams → queue → drain into an engine, malformed input counted."""
from __future__ import annotations

import logging
import socket
import struct
import time

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from rtmir.control import ControlServer, OscError
from rtmir.core.engine import Engine
from rtmir.core.processor import Event, ProcessSpec, Processor
from rtmir.sinks.osc_format import IMMEDIATELY, build_bundle, build_message, osc_string


class FakeEngine:
    """Records what drain does; refuses params of unknown tasks like Engine.apply_control."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def reset(self) -> None:
        self.calls.append(("reset",))

    def apply_control(self, task: str, param: str, value: float) -> None:
        if task != "yin":
            raise KeyError(f"no processor for task {task!r}")
        self.calls.append((task, param, value))


@pytest.fixture
def server():
    srv = ControlServer(port=0)
    yield srv
    srv.close()


def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the control server"
        time.sleep(0.005)


def test_reset_and_param_reach_the_engine_over_udp(server):
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/rtmir/ctl/reset", [])
    client.send_message("/rtmir/ctl/yin/threshold", 0.2)
    client.send_message("/rtmir/ctl/yin/fmin", 50)  # int32 is a number too
    wait_for(lambda: server.received == 3)
    engine = FakeEngine()
    assert server.drain(engine) == 3
    assert engine.calls == [("reset",), ("yin", "threshold", pytest.approx(0.2)), ("yin", "fmin", 50.0)]
    assert (server.applied, server.malformed, server.drain(engine)) == (3, 0, 0)


@pytest.mark.parametrize(
    "datagram",
    [
        b"garbage",
        b"",
        b"#bundle\x00\x00\x00",
        build_message("/rtmir/ctl/yin/threshold", ["high"]),
        build_message("/rtmir/ctl/yin/threshold", []),
        build_message("/rtmir/ctl/yin/threshold", [0.1, 0.2]),
        build_message("/rtmir/ctl/yin", [0.1]),
        build_message("/rtmir/ctl/yin/a/b", [0.1]),
        build_message("/rtmir/ctl/reset", [1.0, 2.0]),
        build_message("/rtmir/other", [1.0]),
        osc_string("/rtmir/ctl/yin/threshold") + osc_string(",f") + struct.pack(">f", float("nan")),
        b"/rtmir/ctl/reset\x00\x00\x00\x00,T\x00\x00",  # a bool argument
    ],
    ids=["garbage", "empty", "short-bundle", "string-arg", "no-arg", "two-args", "no-param",
         "too-deep", "reset-two-args", "unknown-address", "nan", "bool"],
)
def test_malformed_datagrams_are_counted_and_ignored(server, datagram):
    server.handle_datagram(datagram)
    assert server.malformed == 1
    assert server.drain(FakeEngine()) == 0


def test_malformed_over_the_socket_does_not_stop_the_server(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\xff" * 7, ("127.0.0.1", server.port))
        s.sendto(build_message("/rtmir/ctl/reset", []), ("127.0.0.1", server.port))
    wait_for(lambda: server.received == 2)
    engine = FakeEngine()
    server.drain(engine)
    assert (server.malformed, engine.calls) == (1, [("reset",)])


def test_bundle_commands_apply_in_order_and_button_release_is_ignored(server):
    server.handle_datagram(build_bundle(IMMEDIATELY, [
        build_message("/rtmir/ctl/yin/threshold", [0.3]),
        build_message("/rtmir/ctl/reset", [1.0]),
        build_message("/rtmir/ctl/reset", [0.0]),
    ]))
    engine = FakeEngine()
    server.drain(engine)
    assert engine.calls == [("yin", "threshold", pytest.approx(0.3)), ("reset",)]
    assert server.malformed == 0


def test_rejected_commands_are_counted_and_logged_once(server, caplog):
    for _ in range(3):
        server.handle_datagram(build_message("/rtmir/ctl/nosuch/gain", [1.0]))
    with caplog.at_level(logging.WARNING, logger="rtmir.control"):
        assert server.drain(FakeEngine()) == 3
    assert (server.rejected, server.applied) == (3, 0)
    assert len(caplog.records) == 1 and "nosuch/gain" in caplog.records[0].getMessage()


def test_custom_prefix(server):
    with ControlServer(port=0, prefix="/studio") as other:
        other.handle_datagram(build_message("/studio/ctl/reset", []))
        other.handle_datagram(build_message("/rtmir/ctl/reset", []))
        assert (other.commands.qsize(), other.malformed) == (1, 1)


def test_port_in_use_is_an_osc_error(server):
    with pytest.raises(OscError, match="cannot listen for OSC control on 127.0.0.1"):
        ControlServer(port=server.port)


def test_close_stops_the_thread_and_is_idempotent():
    srv = ControlServer(port=0)
    thread = srv._thread
    start = time.monotonic()
    srv.close()
    srv.close()
    assert not thread.is_alive() and time.monotonic() - start < 0.5


class Gain(Processor):
    """A tiny processor with one parameter and a counter that reset clears."""

    task = "gain"
    hop_size = 4

    def __init__(self) -> None:
        self.gain, self.hops = 1.0, 0

    def prepare(self, spec: ProcessSpec) -> None:
        self.sample_rate = spec.sample_rate

    def process(self, block, t0, out=None):
        self.hops += 1
        return [Event("gain", t0 / self.sample_rate, {"level": float(self.gain * np.abs(block).max())})]

    def reset(self) -> None:
        self.hops = 0

    def set_param(self, name: str, value: float) -> None:
        if name != "gain":
            raise KeyError(f"gain has no parameter {name!r}")
        self.gain = value


def test_drain_drives_the_real_engine(server):
    proc = Gain()
    engine = Engine([proc])
    engine.prepare(16000, 1, 4)
    engine.push(np.ones((1, 4), np.float32))
    for address, args in [("/rtmir/ctl/gain/gain", [0.5]), ("/rtmir/ctl/gain/nope", [1.0]), ("/rtmir/ctl/reset", [])]:
        server.handle_datagram(build_message(address, args))
    server.drain(engine)
    assert (proc.gain, proc.hops, server.applied, server.rejected) == (0.5, 0, 2, 1)
    assert engine.push(np.ones((1, 4), np.float32))[0].values["level"] == 0.5


def test_an_empty_datagram_logs_nothing_and_an_out_of_range_value_is_refused_with_its_range(server, caplog):
    """No library log leaks (python-osc once printed "Could not identify content type of dgram
    b''"); a value outside the parameter's declared range is refused with one warning naming it."""
    from rtmir.tasks.yin import YinProcessor

    engine = Engine([YinProcessor()])
    engine.prepare(48000, 1, 256)
    with caplog.at_level(logging.DEBUG):
        server.handle_datagram(b"")
        assert server.malformed == 1  # counted; only rtmir's own debug line, nothing above it
        assert [r for r in caplog.records if r.levelno > logging.DEBUG or not r.name.startswith("rtmir")] == []
        before = {p.name: p.default for p in engine.nodes[0].desc.params}
        server.handle_datagram(build_message("/rtmir/ctl/yin/threshold", [1e9]))
        server.drain(engine)
    assert server.rejected == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "threshold" in warnings[0] and "1e+09" in warnings[0], warnings
    assert {p.name: p.default for p in engine.nodes[0].desc.params} == before
