"""BlockAdapter and Chain: any host block sequence = one offline pass; latency adds up."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphs
from rtmir import BlockAdapter, Event, ProcessSpec, Processor, StreamingSession
from rtmir.core.chain import Chain
from rtmir.tasks.model import ModelProcessor


class Recorder(Processor):
    """Emits one event per hop: the hop's first sample and sum; records call sizes."""

    task = "rec"

    def __init__(self, hop: int) -> None:
        self.hop_size = hop
        self.latency_samples = 3
        self.sample_rate = 1000
        self.calls: list[int] = []

    def prepare(self, spec: ProcessSpec) -> None:
        self.max_chunk = max(spec.max_block, self.hop_size)

    def process(self, block, t0, out=None):
        assert block.shape[1] % self.hop_size == 0 and 0 < block.shape[1] <= self.max_chunk
        self.calls.append(block.shape[1])
        h = self.hop_size
        return [Event("rec", (t0 + (k + 1) * h - 3) / 1000, {"first": float(block[0, k * h]), "sum": float(block[0, k * h:(k + 1) * h].sum())})
                for k in range(block.shape[1] // h)]

    def reset(self) -> None:
        self.calls = []


def _signal(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32)[None] % 97


def _run(hop: int, blocks: list[int], x: np.ndarray) -> tuple[list[Event], int]:
    rec = Recorder(hop)
    adapter = BlockAdapter(rec)
    adapter.prepare(ProcessSpec(1000, max(blocks), 1))
    events, pos = [], 0
    for b in blocks:
        events += adapter.push(x[:, pos:pos + b])
        pos += b
    return events, pos


@settings(max_examples=60, deadline=None)
@given(hop=st.integers(1, 300), blocks=st.lists(st.integers(0, 1500), min_size=1, max_size=30))
def test_any_block_sequence_gives_the_offline_hops(hop, blocks):
    x = _signal(sum(blocks))
    events, total = _run(hop, blocks, x)
    offline, _ = _run(hop, [total], x) if total else ([], 0)
    assert len(events) == total // hop
    assert [(e.t, e.values) for e in events] == [(e.t, e.values) for e in offline]
    expected_t = [((k + 1) * hop - 3) / 1000 for k in range(total // hop)]
    assert [e.t for e in events] == expected_t


def test_large_block_gives_several_hops_per_call():
    rec = Recorder(64)
    adapter = BlockAdapter(rec)
    adapter.prepare(ProcessSpec(1000, 1024, 1))
    adapter.push(_signal(1024))
    assert rec.calls == [1024]
    adapter.push(_signal(37))
    adapter.push(_signal(100))
    assert rec.calls == [1024, 128]


@settings(max_examples=25, deadline=None)
@given(blocks=st.lists(st.integers(1, 700), min_size=1, max_size=12))
def test_model_outputs_match_offline_for_any_blocks(tmp_path_factory, blocks):
    path = graphs.accumulator(tmp_path_factory.mktemp("m") / "acc.onnx", hop=16)
    x = np.random.default_rng(0).standard_normal(sum(blocks)).astype(np.float32)[None]
    proc = ModelProcessor(StreamingSession(path))
    adapter = BlockAdapter(proc)
    adapter.prepare(ProcessSpec(16000, max(blocks), 1))
    got, pos = [], 0
    for b in blocks:
        got += [e.values["sum"][0] for e in adapter.push(x[:, pos:pos + b])]
        pos += b
    n = (len(x[0]) // 16) * 16
    expected = np.cumsum(x[0, :n].reshape(-1, 16).sum(1))
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.parametrize(
    "d1,h1,d2,h2", [(5, 1, 7, 1), (5, 4, 7, 16), (0, 32, 3, 8), (11, 1, 0, 64)], ids=["hop1", "hops4-16", "d0", "mixed"]
)
@pytest.mark.parametrize("block", [1, 37, 128, 1000])
def test_chain_latency_is_the_sum_and_an_impulse_shows_it(tmp_path, d1, h1, d2, h2, block):
    a = ModelProcessor(StreamingSession(graphs.delay_line(tmp_path / "a.onnx", delay=d1 or 1, hop=h1)))
    b = ModelProcessor(StreamingSession(graphs.delay_line(tmp_path / "b.onnx", delay=d2 or 1, hop=h2)))
    chain = Chain([a, b])
    outer = BlockAdapter(chain)
    outer.prepare(ProcessSpec(16000, block, 1))
    n = 4000
    x = np.zeros((1, n), np.float32)
    x[0, 100] = 1.0
    y = np.zeros((1, n), np.float32)
    for s in range(0, n, block):
        outer.push(x[:, s:s + block], y[:, s:s + block])
    declared = chain.latency_samples + outer.audio_latency_samples
    assert declared == (d1 or 1) + (d2 or 1) + (h1 - 1) + (h2 - 1)
    assert int(np.argmax(y[0])) == 100 + declared
    assert y[0].sum() == pytest.approx(1.0)


def test_the_downmix_is_exact_for_identical_channels_and_within_half_an_ulp():
    from rtmir.core.channels import mean_into

    rng = np.random.default_rng(7)
    x = rng.standard_normal(4096).astype(np.float32)
    dst = np.zeros(4096, np.float32)
    mean_into(np.stack([x] * 6), dst)
    np.testing.assert_array_equal(dst, x)  # six copies of x average to x, bit for bit
    many = rng.standard_normal((5, 4096)).astype(np.float32)
    mean_into(many, dst)
    exact = many.astype(np.float64).mean(axis=0)
    assert np.all(np.abs(dst - exact) <= 0.5 * np.spacing(np.abs(exact).astype(np.float32)) + 1e-12)
