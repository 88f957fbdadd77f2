"""The generator's training: tokens as the runtime's encoder makes them, start symbols not scored,
windows, and a few steps that learn a repeating token pattern."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.token_lm import TokenLMConfig
from models.transformer import TransformerConfig
from training.generate.config import GenerateTrainConfig
from training.generate.task import IGNORE, GenerateTask, StepWindows, stage_nll, targets_of
from training.generate.tokens import TokenPieces, _stack, encode

pytestmark = pytest.mark.torch


def test_training_tokens_are_the_runtimes_hop_by_hop_tokens():
    from rtmir.codec.files import CodecPair

    pair = CodecPair.open()
    audio = np.random.default_rng(0).standard_normal(pair.hop * 90).astype(np.float32) * 0.1
    chunked = encode(pair, audio, chunk_hops=37)
    pair.encoder.reset()
    by_hop = np.stack([pair.encode_hop(audio[i * pair.hop:(i + 1) * pair.hop]).copy() for i in range(90)])
    assert np.array_equal(chunked, by_hop) and chunked.dtype == np.int16


def test_start_symbols_are_not_scored():
    logits = torch.zeros(1, 2, 4, 3)
    logits[0, :, 1, :] = 5.0  # confident in code 1
    steps = torch.tensor([[[1, 1, 4], [4, 1, 1]]])
    t = targets_of(steps, 4)
    assert t[0, 0, 2] == IGNORE and t[0, 1, 0] == IGNORE
    per = stage_nll(logits, t)
    confident = float(-torch.log_softmax(logits[0, 0, :, 0], 0)[1])
    torch.testing.assert_close(per, torch.tensor([confident, confident]))


def test_windows_are_crops_of_the_pieces():
    steps = [torch.arange(3 * 50).reshape(3, 50)]
    w = StepWindows(steps, 10, seed=0)
    item = w[0]
    assert item.shape == (3, 11)
    o = int(item[0, 0])
    assert torch.equal(item, steps[0][:, o:o + 11])


def _pieces(n: int, frames: int, rng) -> TokenPieces:
    pattern = np.array([[0, 1, 2, 3], [4, 5, 6, 7]]).T  # a period-4 loop
    seqs = []
    for _ in range(n):
        o = int(rng.integers(0, 4))
        seqs.append(np.stack([pattern[(o + i) % 4] for i in range(frames)]).astype(np.int16))
    return _stack(seqs, [str(i) for i in range(n)])


def test_a_few_steps_learn_a_repeating_pattern():
    rng = np.random.default_rng(0)
    config = GenerateTrainConfig(
        model=TokenLMConfig(n_stages=2, codebook_size=8, transformer=TransformerConfig(
            input_size=16, d_model=16, n_heads=2, n_layers=1, ff_mult=2, cache_frames=16)),
        crop_frames=24, batch_size=4)
    task = GenerateTask(config, _pieces(8, 60, rng), _pieces(2, 60, rng))
    torch.manual_seed(0)
    model = task.build_model()
    before = task.validate(model).by_condition["msg"]["nll"]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):  # epochs of 4 batches
        for batch in task.batches(model):
            loss, _ = task.loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    after = task.validate(model).by_condition["msg"]["nll"]
    assert before > 1.5 and after < 0.3 * before
