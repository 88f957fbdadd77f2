"""The inline placement: which nodes may run in the audio callback, and the callback's part of
the engine giving the same samples as the whole engine."""
from __future__ import annotations

import numpy as np
import pytest

from graph_nodes import Clicks, Delay
from rtmir.core.engine import Engine
from rtmir.core.graph import GraphError, GraphSpec, build_graph


def graph(spec: dict, **make):
    return build_graph(GraphSpec.from_dict(spec), lambda ns: make[ns.task]())


@pytest.mark.parametrize("spec, message", [
    ({"nodes": {"k": {"task": "clicks", "placement": "inline"}}, "edges": ["input -> k"]},
     "node k: placement inline needs audio in and audio out only"),
    ({"nodes": {"a": {"task": "delay"}, "b": {"task": "delay", "placement": "inline"}},
      "edges": ["input -> a", "a -> b"]}, "an inline node must be fed by the input or another inline node, not by a"),
    ({"nodes": {"a": {"task": "delay", "placement": "inline"}, "b": {"task": "delay"}},
      "edges": ["input -> a", "a -> b"]}, r"inline output consumed by worker node\(s\) b"),
    ({"nodes": {"a": {"task": "delay", "placement": "inline"}}, "edges": ["input -> a"], "routes": ["a -> file"]},
     "an inline node cannot be routed to a file"),
    ({"nodes": {"a": {"task": "delay", "placement": "beside"}}, "edges": ["input -> a"]}, "nodes.a.placement: 'beside' is not one of worker, inline, ahead"),
], ids=["events", "fed-by-worker", "consumed-by-worker", "file", "unknown"])
def test_nodes_the_callback_cannot_run_are_refused(spec, message):
    with pytest.raises(GraphError, match=message):
        Engine(graph(spec, delay=lambda: Delay(3, 4), clicks=Clicks))


def spec_two_placements():
    return {"nodes": {"fast": {"task": "a", "placement": "inline"}, "slow": {"task": "b"},
                      "chain": {"task": "c", "placement": "inline"}},
            "edges": ["input -> fast", "input -> slow", "fast -> chain"],
            "routes": ["chain -> out:1", "slow -> out:2"]}


def make():
    return dict(a=lambda: Delay(5, 4), b=lambda: Delay(9, 16), c=lambda: Delay(2, 1, 24000))


@pytest.mark.parametrize("block", [64, 100])
def test_the_callback_part_gives_the_same_samples_as_the_whole_engine(block):
    x = (0.2 * np.random.default_rng(2).standard_normal((1, 50 * block))).astype(np.float32)
    whole = Engine(graph(spec_two_placements(), **make()))
    split = Engine(graph(spec_two_placements(), **make()))
    for e in (whole, split):
        e.prepare(48000, 1, block)
    inline = split.attach_inline()
    assert [n.name for n in inline.nodes] == ["fast", "chain"]
    a = np.zeros((2, x.shape[1]), np.float32)
    b = np.zeros((2, x.shape[1]), np.float32)
    for s in range(0, x.shape[1], block):
        whole.push(x[:, s:s + block].copy(), a[:, s:s + block])
        split.push(x[:, s:s + block].copy(), b[:, s:s + block])  # the worker: inline rows stay 0
        assert not b[0, s:s + block].any()
        inline.process(x[:, s:s + block], b[:, s:s + block])  # the callback fills its rows
    np.testing.assert_array_equal(a, b)
    assert {r["processor"]: r["placement"] for r in split.latency_report()} == \
        {"fast": "inline", "slow": "worker", "chain": "inline"}


def test_a_reset_from_another_thread_waits_for_the_next_callback():
    e = Engine(graph(spec_two_placements(), **make()))
    e.prepare(48000, 1, 64)
    inline = e.attach_inline()
    x = np.ones((1, 64), np.float32)
    out = np.zeros((2, 64), np.float32)
    for _ in range(3):
        inline.process(x, out)
    steps = inline.nodes[0].steps
    e.reset()
    assert inline.reset_requested and inline.nodes[0].steps == steps  # not touched yet
    inline.process(x, out)
    assert not inline.reset_requested and inline.nodes[0].steps == 16  # reset, then one block of hop 4


def test_a_model_is_never_placed_in_the_callback(tmp_path):
    from graphs import delay_line
    from rtmir.session import StreamingSession
    from rtmir.tasks.model import ModelProcessor

    model = delay_line(tmp_path / "d.onnx", delay=3, hop=1, sample_rate=48000)
    g = graph({"nodes": {"m": {"task": "m", "placement": "inline"}}, "edges": ["input -> m"]},
              m=lambda: ModelProcessor(StreamingSession(model)))
    with pytest.raises(GraphError, match="is not callback-safe"):
        Engine(g)


def test_the_delay_task_is_exact_and_callback_safe():
    from rtmir.tasks.delay import DelayProcessor

    e = Engine([DelayProcessor(37, channels=2)], placement="inline")
    e.prepare(48000, 2, 50)
    inline = e.attach_inline()
    x = np.random.default_rng(0).standard_normal((2, 500)).astype(np.float32)
    out = np.zeros((2, 500), np.float32)
    for s in range(0, 500, 50):
        inline.process(x[:, s:s + 50], out[:, s:s + 50])
    np.testing.assert_array_equal(out[:, 37:], x[:, :-37])
    assert not out[:, :37].any()


def test_control_of_an_inline_node_waits_for_the_next_callback():
    from rtmir.core.ports import Param

    class Gain(Delay):
        param_specs = (Param("gain", 1.0, 0.0, 4.0),)

        def __init__(self):
            super().__init__(0, 1)
            self.gain = 1.0

        def set_param(self, name, value):
            self.gain = value

        def process(self, block, t0, out=None):
            out[:] = self.gain * block
            return []

    e = Engine(graph({"nodes": {"g": {"task": "g", "placement": "inline"}}, "edges": ["input -> g"],
                      "routes": ["g -> out:1"]}, g=Gain))
    e.prepare(48000, 1, 16)
    inline = e.attach_inline()
    e.apply_control("g", "gain", 2.0)
    assert e.processors[0].gain == 1.0  # not yet: the callback applies it
    x = np.ones((1, 16), np.float32)
    out = np.zeros((1, 16), np.float32)
    inline.process(x, out)
    assert e.processors[0].gain == 2.0 and np.all(out == 2.0)
    with pytest.raises(ValueError, match=r"gain must be in \[0, 4\]"):
        e.apply_control("g", "gain", 9.0)
