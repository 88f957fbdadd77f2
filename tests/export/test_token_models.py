"""Token models through export and ``StreamingSession.step``: an audio -> tokens encoder and a
tokens -> audio decoder stream chunk by chunk exactly as torch runs them offline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from export.verify import test_signals as make_signals
from export.verify import torch_outputs
from rtmir.card import ModelCard
from rtmir.session import StreamingSession
from tiny_token_models import HOP, Q, SAMPLE_RATE, VOCAB, build_token_pair, export_token_pair

pytestmark = pytest.mark.torch

N_HOPS = 36
CHUNKS = [1, 4, 7]  # hops per call: one hop, several, an odd count that does not divide N_HOPS


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """``(encoder, decoder)`` torch models and ``(encoder.onnx, decoder.onnx)``."""
    return build_token_pair(), export_token_pair(tmp_path_factory.mktemp("tokens"))


def _audio() -> np.ndarray:
    return make_signals(SAMPLE_RATE, 1, N_HOPS * HOP, seed=5)["music"]  # [1, 1, N]


def _stream(session: StreamingSession, name: str, x: np.ndarray, per_hop: int, hops: int) -> dict[str, np.ndarray]:
    """``x [1, F, T]`` through ``session.step`` in chunks of ``hops``; outputs concatenated."""
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, x.shape[-1], hops * per_hop):
        for k, v in session.step({name: x[0, :, i:i + hops * per_hop]}).items():
            parts.setdefault(k, []).append(v.copy())  # views: valid until the next step
    return {k: np.concatenate(v, axis=-1) for k, v in parts.items()}


def test_cards_list_inputs_outputs_and_state(pair) -> None:
    (encoder, decoder), (enc_path, dec_path) = pair
    enc, dec = StreamingSession(enc_path).card, StreamingSession(dec_path).card
    for card in (enc, dec):
        assert ModelCard.from_json(card.to_json()) == card
        assert card.task == "test" and card.state and (card.sample_rate, card.hop) == (SAMPLE_RATE, HOP)
    assert [(i.name, i.kind, i.shape, i.dtype, i.frame_rate) for i in enc.inputs] == [
        ("audio", "audio", [1, 1, "samples"], "float32", float(SAMPLE_RATE))]
    assert [(o.name, o.shape, o.frame_rate) for o in enc.outputs] == [("tokens", [1, Q, "frames"], SAMPLE_RATE / HOP)]
    assert [(i.name, i.kind, i.shape, i.dtype, i.frame_rate) for i in dec.inputs] == [
        ("tokens", "tokens", [1, Q, "frames"], "int64", SAMPLE_RATE / HOP)]
    assert [(o.name, o.unit, o.shape, o.frame_rate) for o in dec.outputs] == [
        ("audio", "audio", [1, 1, "samples"], float(SAMPLE_RATE))]


@pytest.mark.parametrize("hops", CHUNKS, ids=lambda h: f"{h}hops")
def test_encoder_step_equals_torch_offline_bit_exact(pair, hops: int) -> None:
    (encoder, _), (path, _) = pair
    audio = _audio()
    ref = torch_outputs(encoder, audio)[0]
    assert len(np.unique(ref)) > 4, "tokens barely vary: the bit-exact check would prove little"
    got = _stream(StreamingSession(path), "audio", audio, HOP, hops)["tokens"]
    assert got.dtype == np.int64 and got.shape == (1, Q, N_HOPS)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("hops", CHUNKS, ids=lambda h: f"{h}hops")
def test_decoder_step_equals_torch_offline(pair, hops: int) -> None:
    (_, decoder), (_, path) = pair
    tokens = np.random.default_rng(hops).integers(0, VOCAB, (1, Q, N_HOPS), dtype=np.int64)
    ref = torch_outputs(decoder, [tokens])[0]
    got = _stream(StreamingSession(path), "tokens", tokens, 1, hops)["audio"]
    assert got.dtype == np.float32 and got.shape == (1, 1, N_HOPS * HOP)
    assert np.abs(got - ref).max() <= 1e-4
    assert np.abs(ref).max() > 1e-3  # the decoder does produce something


@pytest.mark.parametrize("hops", CHUNKS, ids=lambda h: f"{h}hops")
def test_encoder_tokens_feed_the_decoder_chunk_by_chunk(pair, hops: int) -> None:
    """The graph edge encoder.tokens -> decoder.tokens, one chunk at a time."""
    (encoder, decoder), (enc_path, dec_path) = pair
    audio = _audio()
    with torch.no_grad():
        ref = decoder(encoder(torch.from_numpy(audio))[0])[0].numpy()
    enc, dec = StreamingSession(enc_path), StreamingSession(dec_path)
    out = [dec.step({"tokens": enc.step({"audio": audio[0, :, i:i + hops * HOP]})["tokens"][0]})["audio"].copy()
           for i in range(0, audio.shape[-1], hops * HOP)]
    assert np.abs(np.concatenate(out, axis=-1) - ref).max() <= 1e-4


def test_reset_restores_the_start_and_skipping_it_differs(pair) -> None:
    _, (_, path) = pair
    session = StreamingSession(path)
    tokens = {"tokens": np.random.default_rng(0).integers(0, VOCAB, (Q, 4), dtype=np.int64)}
    first = session.step(tokens)["audio"].copy()
    assert not np.allclose(session.step(tokens)["audio"], first)  # state carried
    session.reset()
    np.testing.assert_array_equal(session.step(tokens)["audio"], first)
