"""The ahead placement without a server: the generator thread's samples are the ones the same
graph gives in a file, at the same stream positions; only generators may be placed ahead."""
from __future__ import annotations

import numpy as np
import pytest

from graph_nodes import Delay
from jack_tools import RmsProcessor
from rtmir.core.engine import Engine
from rtmir.core.graph import GraphError, GraphSpec, build_graph
from rtmir.hosts.ahead import AheadPart
from rtmir.tasks.tone import ToneProcessor

RATE, BLOCK = 48000, 64


def graph(spec: dict, **make):
    return build_graph(GraphSpec.from_dict(spec), lambda ns: make[ns.task]())


def spec():
    return {"nodes": {"gen": {"task": "tone", "placement": "ahead"}, "rms": {"task": "rms"}},
            "edges": ["input -> rms"], "routes": ["gen -> out:2"]}


def test_the_ahead_thread_plays_what_the_file_run_gives():
    make = dict(tone=lambda: ToneProcessor(1000.0, -6.0), rms=lambda: RmsProcessor(128))
    whole, split = Engine(graph(spec(), **make)), Engine(graph(spec(), **make))
    for e in (whole, split):
        e.prepare(RATE, 1, BLOCK)
    x = np.zeros((1, BLOCK), np.float32)
    want = np.zeros((2, 40 * BLOCK), np.float32)
    for i in range(40):
        whole.push(x, want[:, i * BLOCK:(i + 1) * BLOCK])
    plan, rows = split.detach_ahead()
    position = {"pos": 0}
    ahead = AheadPart(plan, rows, BLOCK, RATE, 1, 8 * BLOCK, lambda: position["pos"])
    got = np.zeros((40 * BLOCK, 2), np.float32)  # frame-major, as PortAudio's outdata
    for i in range(40):
        while ahead.pos < position["pos"] + ahead.lead_frames:  # what the thread does
            ahead.step()
        split.push(x, np.zeros((2, BLOCK), np.float32))  # the worker: the generator is not there
        ahead.read_into(position["pos"], got[i * BLOCK:(i + 1) * BLOCK])
        position["pos"] += BLOCK
    np.testing.assert_array_equal(got[:, 1], want[1])
    assert ahead.late_blocks == 0 and np.abs(want[1]).max() > 0.4
    assert [n.name for n in split.nodes if n.name in split._detached] == ["gen"]


def test_a_generator_that_falls_behind_plays_silence_and_is_counted():
    e = Engine(graph(spec(), tone=ToneProcessor, rms=lambda: RmsProcessor(128)))
    e.prepare(RATE, 1, BLOCK)
    plan, rows = e.detach_ahead()
    ahead = AheadPart(plan, rows, BLOCK, RATE, 1, 4 * BLOCK, lambda: 0)
    out = np.ones((BLOCK, 2), np.float32)
    ahead.read_into(0, out)  # nothing generated yet
    assert ahead.late_blocks == 1 and not out[:, 1].any() and np.all(out[:, 0] == 1.0)


@pytest.mark.parametrize("nodes, edges, message", [
    ({"g": {"task": "delay", "placement": "ahead"}}, ["input -> g"], "placement ahead is for generators"),
    ({"g": {"task": "tone", "placement": "ahead"}, "d": {"task": "delay"}}, ["g -> d"],
     "an ahead node's audio can only be routed to outputs, not fed to d"),
], ids=["has-input", "consumed"])
def test_only_generators_are_placed_ahead(nodes, edges, message):
    with pytest.raises(GraphError, match=message):
        Engine(graph({"nodes": nodes, "edges": edges}, tone=ToneProcessor, delay=lambda: Delay(3)))
