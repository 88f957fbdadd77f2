"""Runtime round trip: each family exported, streamed through rtmir, equals torch offline.

The runtime path is ``BlockAdapter(ModelProcessor(StreamingSession(file)))`` pushed host blocks
of any size (and, once, ``FileHost`` reading a file at the model's own rate, so no resampling
is involved). Every family: max abs diff <= 1e-4 on float outputs, codes identical.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from export.verify import test_signals as make_signals
from export.verify import torch_outputs
from rtmir.core.adapter import BlockAdapter
from rtmir.core.engine import Engine
from rtmir.core.processor import ProcessSpec
from rtmir.hosts.file_host import FileHost
from rtmir.session import StreamingSession
from rtmir.tasks.model import ModelProcessor
from tiny_families import ROUND_TRIP

pytestmark = pytest.mark.torch

N_HOPS = 40
PLAYED = "<audio the host received>"


def _signal(model, kind: str = "music") -> np.ndarray:
    """``[1, C, N_HOPS * hop]`` float32 test signal at the model's rate."""
    return make_signals(model.sample_rate, model.channels, N_HOPS * model.hop, seed=3)[kind]


class _Recording(ModelProcessor):
    """ModelProcessor keeping a copy of ``last_outputs`` of every call (the adapter may call it
    several times in one push; the session's outputs are views valid until its next call)."""

    def __init__(self, session: StreamingSession) -> None:
        super().__init__(session)
        self.calls: list[dict[str, np.ndarray]] = []

    def process(self, block, t0, out=None):
        events = super().process(block, t0, out)
        self.calls.append({k: v.copy() for k, v in self.last_outputs.items()})
        return events


def _runtime_outputs(path, audio: np.ndarray, blocks: list[int]) -> dict[str, np.ndarray]:
    """Push ``audio [1, C, N]`` in host blocks (cycling ``blocks``); concatenate every output."""
    processor = _Recording(StreamingSession(path))
    adapter = BlockAdapter(processor)
    adapter.prepare(ProcessSpec(processor.sample_rate, max(blocks), processor.channels))
    pos, i = 0, 0
    n = audio.shape[2]
    played = []
    while pos < n:
        block = np.ascontiguousarray(audio[0, :, pos:pos + blocks[i % len(blocks)]])
        out = np.zeros((processor.output_channels, block.shape[1]), np.float32) if processor.output_channels else None
        adapter.push(block, out)
        if out is not None:
            played.append(out)
        pos += block.shape[1]
        i += 1
    assert adapter.samples_seen == n
    names = [o.name for o in processor.session.card.outputs]
    result = {name: np.concatenate([c[name] for c in processor.calls], axis=-1) for name in names}
    if played:  # the host's audio output, delayed by the adapter's declared latency
        lat = adapter.audio_latency_samples
        result[PLAYED] = np.concatenate(played, axis=1)[None, :, lat:]
    return result


def _assert_same(model, ref: list[np.ndarray], got: dict[str, np.ndarray]) -> None:
    for spec, r in zip(model.outputs, ref):
        g = got[spec.name]
        assert g.shape == r.shape, spec.name
        if np.issubdtype(r.dtype, np.integer):
            assert np.array_equal(r, g), f"{spec.name}: codes differ"
        else:
            assert np.abs(r - g).max() <= 1e-4, spec.name
        if spec.unit == "audio":
            p = got[PLAYED]
            assert np.abs(r[..., :p.shape[-1]] - p).max() <= 1e-4, "audio the host received"


@pytest.mark.parametrize("kind", ["music", "noise"])
@pytest.mark.parametrize("block", [64, 100, 1024], ids=lambda b: f"block{b}")
@pytest.mark.parametrize("name", ROUND_TRIP)
def test_runtime_stream_equals_torch_offline(exported, name: str, block: int, kind: str) -> None:
    model, path = exported(name)
    audio = _signal(model, kind)
    _assert_same(model, torch_outputs(model, audio), _runtime_outputs(path, audio, [block]))


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_any_block_size_sequence(exported, name: str) -> None:
    model, path = exported(name)
    audio = _signal(model)
    ref = torch_outputs(model, audio)

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=12))
    def check(blocks: list[int]) -> None:
        _assert_same(model, ref, _runtime_outputs(path, audio, blocks))

    check()


class _Capture:
    """A sink that keeps every event."""

    def __init__(self) -> None:
        self.events = []

    def send(self, events) -> None:
        self.events.extend(events)

    def status(self, stats) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.parametrize("name, output", [("mel_tcn", "logits"), ("rvq", "codes")])
def test_file_host_events_equal_torch_offline(exported, tmp_path, name: str, output: str) -> None:
    model, path = exported(name)
    audio = _signal(model)
    wav = tmp_path / "music.wav"
    sf.write(wav, audio[0].T, model.sample_rate, subtype="FLOAT")
    sink = _Capture()
    FileHost(wav, block=100).run(Engine([ModelProcessor(StreamingSession(path))], [sink]))
    ref = torch_outputs(model, audio)[[o.name for o in model.outputs].index(output)][0]  # [F, T]
    # frames that describe audio before the stream began (their end is within the declared
    # latency of sample 0) are not events
    card = StreamingSession(path).card
    early = sum(1 for k in range(ref.shape[-1]) if (k + 1) * card.hop < card.latency_samples)
    ref = ref[..., early:]
    got = np.array([e.values[output] for e in sink.events]).T
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-4
    ts = [e.t for e in sink.events]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
