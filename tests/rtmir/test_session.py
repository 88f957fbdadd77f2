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
    offline = acc.process(x)["sum"]
    acc.reset()
    n = 4 * chunk_hops
    parts = [acc.process(x[:, s:s + n])["sum"] for s in range(0, x.shape[1], n)]
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
    y = np.concatenate([s.process(x[:, :4])["delayed"], s.process(x[:, 4:])["delayed"]], axis=-1)[0]
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
