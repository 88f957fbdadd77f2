"""Small contract-2 ONNX graphs built with onnx.helper, so runtime tests need no torch.

- ``accumulator``: per hop, the running sum of all samples so far (state: the sum).
- ``delay_line``: audio delayed by ``delay`` samples (state: the last ``delay`` samples).
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from rtmir.card import CARD_KEY, ModelCard, OutputSpec, StateSpec


def _save(graph: onnx.GraphProto, card: ModelCard, path: Path, card_text: str | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    helper.set_model_props(model, {CARD_KEY: card_text if card_text is not None else card.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def accumulator(path: Path, hop: int = 4, sample_rate: int = 16000, card_text: str | None = None) -> Path:
    """Write a model whose output ``sum[1, 1, frames]`` is the running sum up to each hop's end."""
    n = helper.make_tensor_value_info
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=helper.make_tensor("s", TensorProto.INT64, [3], [1, -1, hop])),
        helper.make_node("Reshape", ["audio", "shape"], ["framed"]),
        helper.make_node("Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [2])),
        helper.make_node("ReduceSum", ["framed", "axes"], ["hop_sums"], keepdims=0),  # [1, frames]
        helper.make_node("Constant", [], ["ax1"], value=helper.make_tensor("b", TensorProto.INT64, [], [1])),
        helper.make_node("CumSum", ["hop_sums", "ax1"], ["cums"]),
        helper.make_node("Unsqueeze", ["cums", "axes0"], ["cums3"]),  # [1, 1, frames]
        helper.make_node("Constant", [], ["axes0"], value=helper.make_tensor("c", TensorProto.INT64, [1], [1])),
        helper.make_node("Add", ["cums3", "state_in.acc"], ["sum"]),
        helper.make_node("Constant", [], ["m1"], value=helper.make_tensor("d", TensorProto.INT64, [1], [-1])),
        helper.make_node("Constant", [], ["big"], value=helper.make_tensor("e", TensorProto.INT64, [1], [2**62])),
        helper.make_node("Slice", ["sum", "m1", "big", "ax2"], ["state_out.acc"]),
        helper.make_node("Constant", [], ["ax2"], value=helper.make_tensor("f", TensorProto.INT64, [1], [2])),
    ]
    nodes = _toposort(nodes)
    graph = helper.make_graph(
        nodes,
        "accumulator",
        [n("audio", TensorProto.FLOAT, [1, 1, "N"]), n("state_in.acc", TensorProto.FLOAT, [1, 1, 1])],
        [n("sum", TensorProto.FLOAT, [1, 1, "F"]), n("state_out.acc", TensorProto.FLOAT, [1, 1, 1])],
    )
    card = ModelCard(
        name="accumulator", task="test", version="0.0.1", sample_rate=sample_rate, channels=1, hop=hop,
        latency_samples=0,
        outputs=[OutputSpec("sum", "sum", sample_rate / hop, [1, 1, "frames"])],
        state=[StateSpec("acc", [1, 1, 1])],
    )
    return _save(graph, card, path, card_text)


def delay_line(path: Path, delay: int = 5, hop: int = 1, sample_rate: int = 16000, channels: int = 1) -> Path:
    """Write a model whose output ``delayed[1, C, N]`` is its input delayed by ``delay`` samples."""
    n = helper.make_tensor_value_info
    nodes = [
        helper.make_node("Concat", ["state_in.line", "audio"], ["joined"], axis=2),  # [1, C, D+N]
        helper.make_node("Shape", ["audio"], ["ashape"]),
        helper.make_node("Constant", [], ["i2"], value=helper.make_tensor("i", TensorProto.INT64, [1], [2])),
        helper.make_node("Gather", ["ashape", "i2"], ["nlen"], axis=0),  # [1] = N
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.INT64, [1], [0])),
        helper.make_node("Slice", ["joined", "zero", "nlen", "i2"], ["delayed"]),
        helper.make_node("Constant", [], ["big"], value=helper.make_tensor("e", TensorProto.INT64, [1], [2**62])),
        helper.make_node("Slice", ["joined", "nlen", "big", "i2"], ["state_out.line"]),
    ]
    nodes = _toposort(nodes)
    graph = helper.make_graph(
        nodes,
        "delay_line",
        [n("audio", TensorProto.FLOAT, [1, channels, "N"]), n("state_in.line", TensorProto.FLOAT, [1, channels, delay])],
        [n("delayed", TensorProto.FLOAT, [1, channels, "N"]), n("state_out.line", TensorProto.FLOAT, [1, channels, delay])],
    )
    card = ModelCard(
        name="delay", task="test", version="0.0.1", sample_rate=sample_rate, channels=channels, hop=hop,
        latency_samples=delay,
        outputs=[OutputSpec("delayed", "audio", float(sample_rate), [1, channels, "samples"])],
        state=[StateSpec("line", [1, channels, delay])],
    )
    return _save(graph, card, path)


def _toposort(nodes: list) -> list:
    """Order nodes so every input is produced before use (lets the builders above read naturally)."""
    produced = {"audio", "state_in.acc", "state_in.line"}
    out, pending = [], list(nodes)
    while pending:
        progressed = False
        for node in list(pending):
            if all(i in produced or i == "" for i in node.input):
                out.append(node)
                produced.update(node.output)
                pending.remove(node)
                progressed = True
        if not progressed:
            raise ValueError(f"unsatisfiable inputs: {[list(n.input) for n in pending]}")
    return out


def card_json(**overrides) -> str:
    """A valid card as JSON text with fields overridden (for negative tests)."""
    base = json.loads(ModelCard(
        name="x", task="test", version="0", sample_rate=16000, channels=1, hop=4, latency_samples=0,
        outputs=[OutputSpec("sum", "sum", 4000.0)], state=[StateSpec("acc", [1, 1, 1])],
    ).to_json())
    base.update(overrides)
    return json.dumps(base)


def forgetful(path, hop: int = 4, sample_rate: int = 16000):
    """A contract-2 model whose running sum forgets its state between calls (state_out = state_in):
    one call over the whole signal differs from any chunked stream."""
    n = helper.make_tensor_value_info
    const = lambda name, values: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
    nodes = [
        const("shape", [1, -1, hop]), helper.make_node("Reshape", ["audio", "shape"], ["framed"]),
        const("ax2", [2]), helper.make_node("ReduceSum", ["framed", "ax2"], ["hop_sums"], keepdims=0),
        helper.make_node("Constant", [], ["ax1"], value=helper.make_tensor("ax1", TensorProto.INT64, [], [1])),
        helper.make_node("CumSum", ["hop_sums", "ax1"], ["cums"]),
        const("ax1v", [1]), helper.make_node("Unsqueeze", ["cums", "ax1v"], ["cums3"]),
        helper.make_node("Add", ["cums3", "state_in.acc"], ["sum"]),
        helper.make_node("Identity", ["state_in.acc"], ["state_out.acc"]),
    ]
    graph = helper.make_graph(nodes, "forgetful",
                              [n("audio", TensorProto.FLOAT, [1, 1, "N"]), n("state_in.acc", TensorProto.FLOAT, [1, 1, 1])],
                              [n("sum", TensorProto.FLOAT, [1, 1, "F"]), n("state_out.acc", TensorProto.FLOAT, [1, 1, 1])])
    card = ModelCard(name="forgetful", task="test", version="0.0.1", sample_rate=sample_rate, channels=1, hop=hop,
                     latency_samples=0, outputs=[OutputSpec("sum", "sum", sample_rate / hop, [1, 1, "frames"])],
                     state=[StateSpec("acc", [1, 1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    helper.set_model_props(model, {CARD_KEY: card.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
