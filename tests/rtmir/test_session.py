"""StreamingSession and the model card, on small ONNX graphs built without torch."""
from __future__ import annotations

import numpy as np
import pytest

import graphs
from rtmir import ModelError, StreamingSession
from rtmir.card import CardError, ModelCard


@pytest.fixture
def acc(tmp_path):
    return StreamingSession(graphs.accumulator(tmp_path / "acc.onnx", hop=4))


@pytest.mark.parametrize("chunk_hops", [1, 3, 7, 64], ids=["1hop", "3hops", "7hops", "64hops"])
def test_chunked_equals_offline(acc, chunk_hops):
    x = np.random.default_rng(1).standard_normal((1, 4 * 64)).astype(np.float32)
    offline = acc.process(x)["sum"].copy()
    acc.reset()
    n = 4 * chunk_hops
    parts = [acc.process(x[:, s:s + n])["sum"].copy() for s in range(0, x.shape[1], n)]
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), offline, atol=1e-4)


def test_reset_restores_the_start_and_skipping_it_differs(acc):
    x = np.ones((1, 8), np.float32)
    first = acc.process(x)["sum"].copy()
    carried = acc.process(x)["sum"]
    assert not np.allclose(first, carried)
    acc.reset()
    np.testing.assert_array_equal(acc.process(x)["sum"], first)


def test_delay_line_state_carries_across_calls(tmp_path):
    s = StreamingSession(graphs.delay_line(tmp_path / "d.onnx", delay=3, channels=2))
    x = np.arange(20, dtype=np.float32).reshape(2, 10)
    y = np.concatenate([s.process(x[:, :4])["delayed"].copy(), s.process(x[:, 4:])["delayed"]], axis=-1)[0]
    np.testing.assert_array_equal(y[:, 3:], x[:, :-3])
    assert s.latency_samples == 3 and s.channels == 2


@pytest.mark.parametrize("shape", [(1, 6), (2, 8), (1, 0)], ids=["not-multiple", "channels", "empty"])
def test_wrong_shapes_are_refused(acc, shape):
    with pytest.raises(ValueError):
        acc.process(np.zeros(shape, np.float32))


def test_missing_corrupt_and_cardless_models_are_refused(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        StreamingSession(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(ModelError, match="cannot load"):
        StreamingSession(bad)
    path = graphs.accumulator(tmp_path / "nocard.onnx", card_text="{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        StreamingSession(path)


def test_card_that_does_not_match_the_graph_is_refused(tmp_path):
    path = graphs.accumulator(tmp_path / "m.onnx", card_text=graphs.card_json(state=[{"name": "other", "shape": [1]}]))
    with pytest.raises(ModelError, match="do not match its card"):
        StreamingSession(path)


def test_card_round_trips(acc):
    card = acc.card
    assert ModelCard.from_json(card.to_json()) == card
    assert card.hop == 4 and card.state[0].name == "acc"


@pytest.mark.parametrize("override,message", [
    ({"hop": 0}, "must be positive"),
    ({"latency_samples": -1}, "negative"),
    ({"outputs": []}, "no outputs"),
    ({"unknown_field": 1}, "schema"),
], ids=["hop0", "negative-latency", "no-outputs", "unknown-field"])
def test_invalid_cards_are_refused(override, message):
    with pytest.raises(CardError, match=message):
        ModelCard.from_json(graphs.card_json(**override))


# --- several data inputs: audio + tokens + a control value, bound with IOBinding -------------

MIX_HOP = 4


def _mixer(path, card_inputs=None):
    """Audio ``[1, 1, N]`` (hop 4), tokens ``[1, 2, T]`` (one frame per hop), control ``gain [1, 1]``
    -> ``level [1, 1, T]`` (running sum of the audio per hop, carried in state ``acc``),
    ``codes [1, 2, T]`` int64 (tokens + 1), ``scaled [1, 1, N]`` (audio * gain)."""
    from onnx import TensorProto, helper

    from rtmir.card import InputSpec, OutputSpec, StateSpec

    c = helper.make_tensor
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=c("s", TensorProto.INT64, [3], [1, -1, MIX_HOP])),
        helper.make_node("Reshape", ["audio", "shape"], ["framed"]),  # [1, T, hop]
        helper.make_node("Constant", [], ["ax2"], value=c("a", TensorProto.INT64, [1], [2])),
        helper.make_node("ReduceSum", ["framed", "ax2"], ["hop_sums"], keepdims=0),  # [1, T]
        helper.make_node("Constant", [], ["ax1s"], value=c("b", TensorProto.INT64, [], [1])),
        helper.make_node("CumSum", ["hop_sums", "ax1s"], ["cums"]),
        helper.make_node("Constant", [], ["ax1"], value=c("d", TensorProto.INT64, [1], [1])),
        helper.make_node("Unsqueeze", ["cums", "ax1"], ["cums3"]),  # [1, 1, T]
        helper.make_node("Add", ["cums3", "state_in.acc"], ["level"]),
        helper.make_node("Constant", [], ["m1"], value=c("e", TensorProto.INT64, [1], [-1])),
        helper.make_node("Constant", [], ["big"], value=c("f", TensorProto.INT64, [1], [2**62])),
        helper.make_node("Slice", ["level", "m1", "big", "ax2"], ["state_out.acc"]),
        helper.make_node("Constant", [], ["one"], value=c("g", TensorProto.INT64, [], [1])),
        helper.make_node("Add", ["tokens", "one"], ["codes"]),
        helper.make_node("Unsqueeze", ["gain", "ax2"], ["gain3"]),  # [1, 1, 1]
        helper.make_node("Mul", ["audio", "gain3"], ["scaled"]),
    ]
    v = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "mixer",
        [v("audio", TensorProto.FLOAT, [1, 1, "N"]), v("tokens", TensorProto.INT64, [1, 2, "T"]),
         v("gain", TensorProto.FLOAT, [1, 1]), v("state_in.acc", TensorProto.FLOAT, [1, 1, 1])],
        [v("level", TensorProto.FLOAT, [1, 1, "T"]), v("codes", TensorProto.INT64, [1, 2, "T"]),
         v("scaled", TensorProto.FLOAT, [1, 1, "N"]), v("state_out.acc", TensorProto.FLOAT, [1, 1, 1])],
    )
    sr = 16000
    card = ModelCard(
        name="mixer", task="test", version="0.0.1", sample_rate=sr, channels=1, hop=MIX_HOP, latency_samples=0,
        outputs=[OutputSpec("level", "sum", sr / MIX_HOP, [1, 1, "frames"]),
                 OutputSpec("codes", "code", sr / MIX_HOP, [1, 2, "frames"]),
                 OutputSpec("scaled", "audio", float(sr), [1, 1, "samples"])],
        state=[StateSpec("acc", [1, 1, 1])],
        inputs=card_inputs if card_inputs is not None else [
            InputSpec("audio", "audio", [1, 1, "samples"], "float32", float(sr)),
            InputSpec("tokens", "tokens", [1, 2, "frames"], "int64", sr / MIX_HOP),
            InputSpec("gain", "control", [1, 1], "float32", None, ["gain"])],
    )
    return graphs._save(graph, card, path)


@pytest.fixture
def mixer(tmp_path):
    return StreamingSession(_mixer(tmp_path / "mixer.onnx"))


def _mix_inputs(hops: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"audio": rng.standard_normal((1, hops * MIX_HOP)).astype(np.float32),
            "tokens": rng.integers(0, 100, (2, hops)), "gain": np.array([0.5], np.float32)}


@pytest.mark.parametrize("chunk_hops", [1, 4, 7], ids=["1hop", "4hops", "7hops"])
def test_step_with_several_inputs_chunked_equals_offline(mixer, chunk_hops):
    x = _mix_inputs(40)
    offline = {k: v.copy() for k, v in mixer.step(x).items()}
    assert set(offline) == {"level", "codes", "scaled"} and offline["codes"].dtype == np.int64
    np.testing.assert_array_equal(offline["codes"][0], x["tokens"] + 1)
    np.testing.assert_allclose(offline["scaled"][0], 0.5 * x["audio"], atol=1e-6)
    mixer.reset()
    parts = []
    for h in range(0, 40, chunk_hops):
        chunk = {"audio": x["audio"][:, h * MIX_HOP:(h + chunk_hops) * MIX_HOP],
                 "tokens": x["tokens"][:, h:h + chunk_hops], "gain": x["gain"]}
        parts.append({k: v.copy() for k, v in mixer.step(chunk).items()})
    for name, ref in offline.items():
        got = np.concatenate([p[name] for p in parts], axis=-1)
        if name == "codes":
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize("change, message", [
    (lambda x: x.pop("gain"), r"missing input\(s\) \['gain'\]"),
    (lambda x: x.update(extra=np.zeros(1, np.float32)), r"unknown input\(s\) \['extra'\]"),
    (lambda x: x.update(tokens=x["tokens"].astype(np.float32)), "'tokens' must be a int64 array, got float32"),
    (lambda x: x.update(audio=x["audio"].astype(np.int16)), "'audio' must be a float32 array"),
    (lambda x: x.update(audio=x["audio"][None]), r"'audio' must be \[1, N\] \(no batch axis\), got \[1, 1, 12\]"),
    (lambda x: x.update(tokens=x["tokens"][:1]), r"'tokens' must be \[2, N\]"),
    (lambda x: x.update(gain=np.zeros(2, np.float32)), r"'gain' must be \[1\]"),
    (lambda x: x.update(audio=x["audio"][:, :10]), "'audio' length 10 is not a positive multiple of hop 4"),
    (lambda x: x.update(audio=x["audio"][:, :0]), "'audio' length 0 is not a positive multiple"),
    (lambda x: x.update(tokens=x["tokens"][:, :2]), "different numbers of hops: 'audio' 12 \\(3 hops\\), 'tokens' 2"),
], ids=["missing", "unknown", "tokens-float", "audio-int", "batch-axis", "tokens-rows", "control-shape",
        "not-multiple", "empty", "lengths-differ"])
def test_step_refuses_inputs_that_do_not_fit_naming_them(mixer, change, message):
    x = _mix_inputs(3)
    change(x)
    with pytest.raises(ValueError, match=message):
        mixer.step(x)


def test_process_needs_a_model_whose_only_input_is_audio(mixer):
    with pytest.raises(ValueError, match="call step"):
        mixer.process(np.zeros((1, 8), np.float32))


def test_outputs_are_read_only_views_valid_until_the_next_call(acc):
    x = np.ones((1, 8), np.float32)
    first = acc.process(x)["sum"]
    kept = first.copy()
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[...] = 0
    acc.process(x)
    assert not np.array_equal(first, kept)  # overwritten in place by the next call: copy to keep


def test_state_sets_are_swapped_not_copied(acc):
    """Call k reads state set k % 2 and writes the other; no state array is ever replaced."""
    sets = [[id(a) for a in group] for group in acc._state]
    x = np.ones((1, 4), np.float32)
    acc.process(x)
    assert acc._state[1][0][0, 0, 0] == 4 and acc._state[0][0][0, 0, 0] == 0
    acc.process(x)
    assert acc._state[0][0][0, 0, 0] == 8
    assert [[id(a) for a in group] for group in acc._state] == sets


@pytest.mark.parametrize("prepare", [True, False], ids=["prepared", "first-call"])
def test_longer_chunks_than_prepared_still_work(tmp_path, prepare):
    s = StreamingSession(graphs.delay_line(tmp_path / "d.onnx", delay=3))
    if prepare:
        s.prepare(8)
    x = np.arange(64, dtype=np.float32)[None]
    y = [s.process(x[:, a:b])["delayed"].copy() for a, b in [(0, 2), (2, 10), (10, 40), (40, 41), (41, 64)]]
    np.testing.assert_array_equal(np.concatenate(y, axis=-1)[0, 0, 3:], x[0, :-3])


@pytest.mark.parametrize("prepare", [True, False], ids=["prepared", "first-call"])
def test_calls_allocate_no_arrays(tmp_path, prepare):
    """Once a chunk size is bound (by prepare or a first call), calls allocate no numpy memory:
    outputs and state live in bound buffers (the old session allocated 128 KiB per call here)."""
    import tracemalloc

    s = StreamingSession(graphs.delay_line(tmp_path / "d.onnx", delay=64, channels=8))
    x = np.ones((8, 4096), np.float32)
    if prepare:
        s.prepare(4096 // 8)  # delay_line's hop is 1: bind a few sizes only, then the first call binds 4096
    s.process(x)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            s.process(x)
        grown = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert grown < 16384, f"{grown} bytes allocated over 20 calls of 128 KiB outputs"


@pytest.mark.parametrize("inputs, message", [
    ([{"name": "audio", "kind": "midi", "shape": [1, 1, "samples"], "frame_rate": 16000.0}], "unknown kind 'midi'"),
    ([{"name": "tokens", "kind": "tokens", "shape": [1, 2, "frames"], "dtype": "float32", "frame_rate": 4000.0}],
     "dtype 'float32'; it must be int64"),
    ([{"name": "a", "kind": "audio", "shape": [1, 1, "samples"], "frame_rate": 16000.0}] * 2, "more than once"),
    ([{"name": "t", "kind": "tokens", "shape": [1, 2, "frames"], "dtype": "int64", "frame_rate": 3000.0}],
     "not a whole number"),
    ([{"name": "g", "kind": "control", "shape": [1, 2, "frames"]}], "no time axis"),
    ([{"name": "g", "kind": "control", "shape": [1, 2]}], "lists no audio or tokens input"),
    ([{"name": "sum", "kind": "audio", "shape": [1, 1, "samples"], "frame_rate": 16000.0}], "both input and output"),
    ([{"name": "a", "kind": "audio", "shape": [1, 2, "samples"], "frame_rate": 16000.0}], "2 channels, the card 1"),
    ([{"name": "a", "kind": "audio", "shape": [1, 1, "samples"], "frame_rate": 8000.0}], "not the card's sample_rate"),
], ids=["kind", "dtype", "twice", "rate", "control-time", "no-time-axis", "name-clash", "channels", "audio-rate"])
def test_invalid_inputs_in_a_card_are_refused(inputs, message):
    with pytest.raises(CardError, match=message):
        ModelCard.from_json(graphs.card_json(inputs=inputs))


def test_a_card_without_inputs_means_one_audio_input():
    import json

    raw = json.loads(graphs.card_json(channels=2))
    del raw["inputs"]  # as in cards written before inputs were listed
    card = ModelCard.from_json(json.dumps(raw))
    assert [(i.name, i.kind, i.shape, i.dtype, i.frame_rate) for i in card.inputs] == [
        ("audio", "audio", [1, 2, "samples"], "float32", 16000.0)]
    assert ModelCard.from_json(card.to_json()) == card


def test_the_shipped_pitch_card_reads_as_one_audio_input():
    from rtmir.zoo import ZOO_DIR

    session = StreamingSession(ZOO_DIR / "pitch-tcn.onnx")
    assert [(i.name, i.kind, i.shape) for i in session.inputs] == [("audio", "audio", [1, 1, "samples"])]


def test_a_card_that_misstates_an_output_length_is_a_clear_model_error(tmp_path):
    """The bound output buffer is sized from the card; a graph that disagrees fails by name."""
    import json

    raw = json.loads(graphs.card_json(hop=4))
    raw["outputs"] = [{"name": "sum", "unit": "sum", "frame_rate": 8000.0, "shape": [1, 1, "frames"]}]  # 2 per hop
    s = StreamingSession(graphs.accumulator(tmp_path / "m.onnx", hop=4, card_text=json.dumps(raw)))
    with pytest.raises(ModelError, match="onnxruntime failed on a chunk of 2 hops: .*sum"):
        s.process(np.zeros((1, 8), np.float32))
