"""The training loss's onset weighting (training/pitch/task.py ``near_onset``, ``loss_terms``)."""
from __future__ import annotations

import dataclasses

import pytest

import torch  # the train extra; these tests are marked torch

pytestmark = pytest.mark.torch

from models.pitch import PitchTCN, PitchTCNConfig, bin_frequencies_hz  # noqa: E402
from rtmir.tasks.pitch import hz_to_cents  # noqa: E402
from training.pitch.config import TrainConfig  # noqa: E402
from training.pitch.task import loss_terms, near_onset  # noqa: E402


def cents_of(f0: torch.Tensor) -> torch.Tensor:
    return 1200 * torch.log2(torch.where(f0 > 0, f0, torch.full_like(f0, 10.0)) / 10.0)


def test_onsets_from_silence_and_note_changes_mark_the_next_frames():
    f0 = torch.tensor([[0, 0, 440, 440, 440, 440, 440, 466.16, 466.16, 466.16, 0, 440.0]])
    got = near_onset(cents_of(f0), f0 > 0, hops=3)[0].tolist()
    #        0  0  on       +1   +2   x    x    step  +1   +2   0  on
    assert got == [0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1]


def test_vibrato_is_not_an_onset_but_a_semitone_split_over_two_frames_is():
    f0 = 440 * 2 ** (torch.tensor([[0, 10, 20, 30, 20, 10, 0, 50, 100, 100, 100]]) / 1200)  # cents
    got = near_onset(cents_of(f0), f0 > 0, hops=2)[0].tolist()
    assert got == [1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0]  # crop start; vibrato; the step 0 -> 50 -> 100


def test_onset_weight_changes_the_loss_only_through_onset_frames():
    torch.manual_seed(0)
    model = PitchTCN(PitchTCNConfig(width=8, dilations=(1,)))
    audio = 0.1 * torch.randn(1, 1, 80 * 20)
    bins = torch.from_numpy(hz_to_cents(bin_frequencies_hz(420))).float()
    base = TrainConfig(model=model.config)
    steady = torch.full((1, 20), 440.0)  # one note from the crop's start: frames 0..7 are "onset"
    l1, _ = loss_terms(model, audio, steady, bins, base)
    l3, _ = loss_terms(model, audio, steady, bins, dataclasses.replace(base, onset_weight=3.0, onset_hops=20))
    torch.testing.assert_close(l1, l3)  # every voiced frame weighted alike: the weighted mean is the same
    l3b, _ = loss_terms(model, audio, steady, bins, dataclasses.replace(base, onset_weight=3.0, onset_hops=4))
    assert not torch.isclose(l1, l3b)
