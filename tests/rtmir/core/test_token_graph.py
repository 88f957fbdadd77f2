"""A token edge between two exported models: encoder.tokens -> decoder.tokens through the engine
equals running the two sessions offline, at host blocks 1, 64 and 1000 (tokens bit-exact)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))  # tests/export helpers
from tiny_token_models import export_token_pair  # noqa: E402
from rtmir.core.engine import Engine  # noqa: E402
from rtmir.core.graph import GraphSpec, build_graph  # noqa: E402
from rtmir.session import StreamingSession  # noqa: E402
from rtmir.tasks.model import ModelProcessor  # noqa: E402

pytestmark = pytest.mark.torch
RATE = 16000


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return export_token_pair(tmp_path_factory.mktemp("tokens"))


def offline(pair, x):
    enc, dec = (StreamingSession(p) for p in pair)
    tokens = np.array(enc.step({"audio": x})["tokens"][0])
    audio = np.array(dec.step({"tokens": tokens})["audio"][0])
    return tokens, audio


@pytest.mark.parametrize("block", [1, 64, 1000])
def test_token_edge_streams_equal_offline(pair, block):
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((1, 16 * 200))).astype(np.float32)
    want_tokens, want_audio = offline(pair, x)
    spec = GraphSpec.from_dict({"nodes": {"enc": {"task": "model", "model": str(pair[0])},
                                          "dec": {"task": "model", "model": str(pair[1])}},
                                "edges": ["input -> enc", "enc.tokens -> dec.tokens"], "routes": ["dec.audio -> out:1"]})
    engine = Engine(build_graph(spec, lambda ns: ModelProcessor(StreamingSession(ns.model))))
    engine.prepare(RATE, 1, block)
    delay = int(engine.latency_report()[1]["audio_delay_samples"])
    n = x.shape[1]
    out = np.zeros((1, n + delay + block), np.float32)
    got_tokens = []
    padded = np.concatenate([x, np.zeros((1, delay + block), np.float32)], axis=1)
    for s in range(0, out.shape[1] - block + 1, block):
        engine.push(padded[:, s:s + block].copy(), out[:, s:s + block])
        got_tokens.append(np.array(engine.nodes[0].produced["tokens"]))
    tokens = np.concatenate(got_tokens, axis=1)[:, :want_tokens.shape[1]]
    np.testing.assert_array_equal(tokens, want_tokens)
    np.testing.assert_allclose(out[0, delay:delay + n], want_audio[0], atol=1e-4)
    assert np.abs(want_audio).max() > 1e-3  # the decoder says something: the test can fail
