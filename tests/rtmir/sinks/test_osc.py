"""OscSink and its datagram formatter, decoded with python-osc's parser (an independent reader)."""
from __future__ import annotations

import logging
import math
import socket
import struct
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket

from rtmir.core.processor import Event
from rtmir.sinks.osc import OscError, OscSink, parse_destination
from rtmir.sinks.osc_format import (
    IMMEDIATELY,
    EventFormatter,
    build_bundle,
    build_message,
    check_prefix,
    ntp_timetag,
)

EPOCH = 1_700_000_000.0  # an arbitrary wall-clock start, UNIX seconds


def pitch(t: float, f0: float, voiced: bool = True, conf: float = 0.9) -> Event:
    return Event("yin", t, {"f0_hz": f0, "voiced": voiced, "confidence": conf})


def decode(datagram: bytes) -> tuple[int, list[tuple[str, str, list]]]:
    """(raw timetag, [(address, type tags, args)]) of one bundle."""
    assert datagram.startswith(b"#bundle\x00")
    timetag = struct.unpack(">Q", datagram[8:16])[0]
    msgs = [(m.address, _typetags(m.dgram), list(m.params)) for m in OscBundle(datagram)]
    return timetag, msgs


def _typetags(dgram: bytes) -> str:
    start = dgram.index(b",")
    return dgram[start + 1 : dgram.index(b"\x00", start)].decode()


@pytest.fixture
def receiver():
    """A UDP socket on 127.0.0.1 that the sink sends to."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- formatting ---------------------------------------------------------------------------
def test_two_hops_in_one_push_make_two_bundles_with_their_timetags():
    f = EventFormatter()
    events = [
        pitch(0.010, 440.0),
        Event("tags", 0.010, {"tags": {"piano": 0.5, "drums": 0.25}}),
        pitch(0.020, 220.0),
    ]
    first, second = f.bundles(events, EPOCH)
    tt1, msgs1 = decode(first)
    tt2, msgs2 = decode(second)
    assert tt1 == ntp_timetag(EPOCH + 0.010) and tt2 == ntp_timetag(EPOCH + 0.020)
    assert OscBundle(first).timestamp == pytest.approx(EPOCH + 0.010, abs=1e-6)
    assert [m[0] for m in msgs1] == ["/rtmir/pitch", "/rtmir/tags", "/rtmir/tag/piano", "/rtmir/tag/drums"]
    assert msgs2 == [("/rtmir/pitch", "fff", [220.0, pytest.approx(0.9), 57.0])]


def test_no_epoch_means_immediately():
    (datagram,) = EventFormatter().bundles([pitch(3.0, 440.0)], None)
    assert decode(datagram)[0] == IMMEDIATELY == 1


def test_ntp_timetag_layout():
    tt = ntp_timetag(1.5)  # 1970-01-01T00:00:01.5
    assert tt >> 32 == 2_208_988_801 and tt & 0xFFFFFFFF == 2**31


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"f0_hz": 440.0, "voiced": True, "confidence": 0.5}, [440.0, 0.5, 69.0]),
        ({"f0_hz": 261.6256, "voiced": True, "confidence": 1.0}, [261.6256, 1.0, 60.0]),
        ({"f0_hz": 440.0, "voiced": False, "confidence": 0.1}, [0.0, 0.1, 0.0]),
        ({"f0_hz": 0.0, "voiced": True, "confidence": 0.7}, [0.0, 0.7, 0.0]),
        ({"f0_hz": float("nan"), "voiced": True, "confidence": float("nan")}, [0.0, 0.0, 0.0]),
        ({"f0_hz": 880.0, "voiced": True, "confidence": 1.7}, [880.0, 1.0, 81.0]),
    ],
    ids=["a4", "c4", "unvoiced", "zero-f0", "nan", "conf-clamped"],
)
def test_pitch_message(values, expected):
    _, [(address, tags, args)] = decode(EventFormatter().bundles([Event("pitch", 0.0, values)], None)[0])
    assert (address, tags) == ("/rtmir/pitch", "fff")
    assert args == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_tags_list_keeps_label_order_and_singles_use_safe_addresses():
    tags = {"piano": 0.5, "bass guitar": 0.25, "drums": 0.125}
    _, msgs = decode(EventFormatter(prefix="/studio/rt").bundles([Event("tags", 1.0, {"tags": tags})], None)[0])
    assert msgs[0] == ("/studio/rt/tags", "sfsfsf", ["piano", 0.5, "bass guitar", 0.25, "drums", 0.125])
    assert msgs[1:] == [
        ("/studio/rt/tag/piano", "f", [0.5]),
        ("/studio/rt/tag/bass_guitar", "f", [0.25]),
        ("/studio/rt/tag/drums", "f", [0.125]),
    ]


def test_separation_levels_floor_non_finite():
    levels = {"vocals": -12.5, "drums": float("-inf")}
    _, msgs = decode(EventFormatter().bundles([Event("sep", 0.0, {"levels_dbfs": levels})], None)[0])
    assert msgs == [("/rtmir/sep/vocals", "f", [-12.5]), ("/rtmir/sep/drums", "f", [-200.0])]


def test_unknown_task_best_effort_only_f_and_s():
    values = {"n": 3, "on": True, "v": np.array([1.0, 2.0]), "name": "x", "d": {"a": 0.5}, "o": object()}
    f = EventFormatter()
    _, msgs = decode(f.bundles([Event("beat", 0.0, values)], None)[0])
    assert msgs == [
        ("/rtmir/beat/n", "f", [3.0]),
        ("/rtmir/beat/on", "f", [1.0]),
        ("/rtmir/beat/v", "ff", [1.0, 2.0]),
        ("/rtmir/beat/name", "s", ["x"]),
        ("/rtmir/beat/d/a", "f", [0.5]),
    ]
    assert f.skipped_values == 1


def test_status_clamps_to_int32_and_defaults_missing_keys():
    f = EventFormatter()
    msg = OscMessage(f.status({"xruns": 2**40, "missed_hops": -(2**40), "cpu_load": 3.0}))
    assert msg.address == "/rtmir/status" and _typetags(msg.dgram) == "iiff"
    assert list(msg.params) == [2**31 - 1, -(2**31), 1.0, 0.0]
    assert list(OscMessage(f.status({})).params) == [0, 0, 0.0, 0.0]


def test_node_figures_are_one_plain_message_per_node_under_its_own_name():
    f = EventFormatter()
    stats = {"nodes": {"generate": {"tokens_per_s": 2196.5, "buffer_ahead_ms": float("nan")},
                       "pitch": {"calls_per_s": 100.0}}}
    gen, pitch = (OscMessage(d) for d in f.node_figures(stats))
    assert gen.address == "/rtmir/generate/live" and _typetags(gen.dgram) == "ff"
    assert list(gen.params) == [2196.5, 0.0]  # non-finite sent as 0
    assert pitch.address == "/rtmir/pitch/live"  # never the bare /rtmir/live
    assert f.node_figures({}) == [] and f.node_figures({"xruns": 1}) == []


def test_build_message_never_emits_int64_bool_or_double():
    msg = OscMessage(build_message("/x", [2**35, True, 1e300, "s", np.int64(-(2**40))]))
    assert _typetags(msg.dgram) == "iifsi"
    assert list(msg.params)[:2] == [2**31 - 1, 1]
    assert OscPacket(build_bundle(IMMEDIATELY, [msg.dgram])).messages[0].message.address == "/x"


@settings(max_examples=60, deadline=None)
@given(
    f0=st.floats(allow_nan=True, allow_infinity=True),
    conf=st.floats(allow_nan=True, allow_infinity=True),
    voiced=st.booleans(),
    probs=st.lists(st.floats(allow_nan=False, width=32, min_value=0, max_value=1), min_size=0, max_size=5),
)
def test_any_values_pack_to_float32_messages(f0, conf, voiced, probs):
    tags = {f"l{i}": p for i, p in enumerate(probs)}
    events = [Event("pitch", 0.5, {"f0_hz": f0, "voiced": voiced, "confidence": conf}), Event("tags", 0.5, {"tags": tags})]
    (datagram,) = EventFormatter().bundles(events, EPOCH)
    _, msgs = decode(datagram)
    assert msgs[0][1] == "fff" and 0.0 <= msgs[0][2][1] <= 1.0
    if not (voiced and math.isfinite(f0) and 0 < f0 < 1e9):
        assert msgs[0][2][0] == 0.0 and msgs[0][2][2] == 0.0
    assert msgs[1][2][1::2] == pytest.approx(probs)


@pytest.mark.parametrize("prefix", ["rtmir", "/rtmir/", "/rt mir", "/a//b", ""])
def test_bad_prefix_is_refused(prefix):
    with pytest.raises(OscError):
        check_prefix(prefix)


# -- the socket ---------------------------------------------------------------------------
def test_sink_sends_one_datagram_per_hop_and_status(receiver):
    port = receiver.getsockname()[1]
    with OscSink("127.0.0.1", port, timetag_epoch=EPOCH) as sink:
        events = [pitch(0.01, 440.0), pitch(0.02, 440.0, voiced=False)]
        sink.send(events)
        sink.status({"xruns": 1, "missed_hops": 2, "cpu_load": 0.5, "latency_ms": 12.5})
        got = [receiver.recv(65536) for _ in range(3)]
    assert got[:2] == EventFormatter().bundles(events, EPOCH)
    assert list(OscMessage(got[2]).params) == [1, 2, 0.5, 12.5]
    assert (sink.sent, sink.send_errors) == (3, 0)


def test_unreachable_port_warns_once_and_counts(caplog):
    port = free_udp_port()  # nothing listens there: the kernel answers ICMP port unreachable
    sink = OscSink("127.0.0.1", port)
    with caplog.at_level(logging.WARNING, logger="rtmir.sinks.osc"):
        for i in range(20):
            sink.send([pitch(i * 0.01, 440.0)])
            time.sleep(0.002)
    sink.close()
    assert sink.send_errors >= 3  # connected UDP: ECONNREFUSED on (about) every other send
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "refused" in sink.last_error.lower()


def test_unresolvable_host_is_a_value_error():
    with pytest.raises(OscError, match="cannot resolve OSC host 'nohost.invalid'") as info:
        OscSink("nohost.invalid", 9000)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("port", [0, 70000, -1, "9000"], ids=str)
def test_bad_port_is_refused(port):
    with pytest.raises(OscError, match="bad OSC port"):
        OscSink("127.0.0.1", port)


def test_full_buffer_and_oversized_datagrams_are_counted_not_raised(receiver):
    sink = OscSink("127.0.0.1", receiver.getsockname()[1])
    assert sink._sock.getblocking() is False

    def full(datagram: bytes) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    real_send, sink._send = sink._send, full
    sink.send([pitch(0.0, 440.0), pitch(0.01, 440.0)])
    assert (sink.sent, sink.send_errors) == (0, 2)
    sink._send = real_send
    huge = {f"label{i:05d}": 0.5 for i in range(4000)}  # ~200 kB: over the UDP limit (EMSGSIZE)
    sink.send([Event("tags", 0.02, {"tags": huge}), pitch(0.03, 440.0)])
    assert (sink.sent, sink.send_errors) == (1, 3) and "too long" in sink.last_error
    sink.close()

@pytest.mark.parametrize(
    "text, expected",
    [("127.0.0.1:9000", ("127.0.0.1", 9000)), ("[::1]:57120", ("::1", 57120)), (":9001", ("127.0.0.1", 9001)),
     ("studio.local:8000", ("studio.local", 8000))],
    ids=["ipv4", "ipv6", "port-only", "name"],
)
def test_parse_destination(text, expected):
    assert parse_destination(text) == expected


@pytest.mark.parametrize("text", ["localhost", "localhost:", "host:0", "host:99999", "host:x"])
def test_parse_destination_refuses(text):
    with pytest.raises(OscError, match="bad OSC destination"):
        parse_destination(text)


def test_addresses_are_per_node_and_the_first_node_of_a_kind_keeps_the_short_ones():
    """pitch and yin both emit pitch results: the first keeps /rtmir/pitch, yin gets its own."""
    from graph_nodes import Stems
    from rtmir.core.graph import parallel_graph
    from rtmir.tasks.yin import YinProcessor

    g = parallel_graph([YinProcessor(), YinProcessor(), Stems()])
    f = EventFormatter()
    f.bind_graph(g)
    events = [Event("yin", 0.5, {"f0_hz": 440.0, "voiced": True, "confidence": 0.9}, node="yin"),
              Event("yin", 0.5, {"f0_hz": 220.0, "voiced": True, "confidence": 0.8}, node="yin_2"),
              Event("stems", 0.5, {"levels_dbfs": {"a": -6.0}}, node="stems")]
    _, msgs = decode(f.bundles(events, None)[0])
    assert [m[0] for m in msgs] == ["/rtmir/pitch", "/rtmir/yin_2/pitch", "/rtmir/sep/a"]
    assert msgs[1][2][0] == pytest.approx(220.0)


def test_raw_results_go_under_the_node_name():
    f = EventFormatter()
    _, msgs = decode(f.bundles([Event("model", 0.0, {"sum": [1.0]}, node="acc")], None)[0])
    assert msgs[0][0] == "/rtmir/acc/sum"


def test_a_subnormal_voiced_f0_still_packs_a_finite_midi_number():
    # f0 / 440 underflows to 0 for f0 = 5e-324 (found by the property test above)
    (datagram,) = EventFormatter().bundles([Event("pitch", 0.5, {"f0_hz": 5e-324, "voiced": True,
                                                                  "confidence": 0.5})], EPOCH)
    _, msgs = decode(datagram)
    assert msgs[0][1] == "fff" and math.isfinite(msgs[0][2][2]) and msgs[0][2][2] < -10000
