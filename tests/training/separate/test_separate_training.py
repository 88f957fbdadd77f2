"""Separation on the training core: SI-SDR equals its definition, the oracle masks reconstruct and
beat the mix, crops keep the mix the sum of the stems, and a few-step run on a tiny rendered band
set lowers the loss and exports a model the runtime streams."""
from __future__ import annotations

import numpy as np
import pytest

from training.separate.data import GROUPS, STEMS, StemClips
from training.separate.metrics import active, improvements, si_sdr, summarise
from training.separate.oracle import istft, oracle_stems, stft


def test_si_sdr_is_scale_invariant_and_matches_its_definition():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(4000)
    noise = rng.standard_normal(4000)
    est = 0.5 * s + 0.1 * noise
    s, est = s - s.mean(), est - est.mean()  # means removed, as the definition does
    target = (est @ s / (s @ s)) * s
    expect = 10 * np.log10(target @ target / ((est - target) @ (est - target)))
    assert si_sdr(est, s) == pytest.approx(expect, abs=1e-6)
    assert si_sdr(3 * est, s) == pytest.approx(expect, abs=1e-6)
    assert si_sdr(s, s) > 80
    assert not active(np.zeros(10), s[:10]) and active(s, s + noise)


def test_improvements_leave_silent_stems_out():
    rng = np.random.default_rng(1)
    stems = rng.standard_normal((4, 2000))
    stems[1] = 0.0
    mix = stems.sum(axis=0)
    per = improvements(stems, stems, mix, STEMS)
    assert per["bass"] is None and all(per[k] > 50 for k in ("drums", "other", "melody"))
    summary = summarise([per, improvements(np.repeat(mix[None], 4, 0), stems, mix, STEMS)], STEMS)
    assert summary["n_bass"] == 0 and np.isnan(summary["bass"]) and summary["n_drums"] == 2
    assert np.isfinite(summary["mean"])  # the mean over the stems that were scored


def test_the_oracle_stft_reconstructs_and_its_masks_sum_to_the_mix():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(128 * 40)
    y = istft(stft(x, 256, 64), 256, 64)
    np.testing.assert_allclose(y[192:], x[:-192], atol=1e-9)
    t = np.arange(128 * 200) / 22050
    stems = np.stack([np.sin(2 * np.pi * 110 * t), np.sin(2 * np.pi * 1760 * t)])
    est = oracle_stems(stems, 256, 128)
    np.testing.assert_allclose(est.sum(axis=0)[:-128], stems.sum(axis=0)[:-128], atol=1e-6)
    assert si_sdr(est[0, 1000:-1000], stems[0, 1000:-1000]) > 20  # two far-apart tones: nearly separable


def test_groups_cover_every_band_part():
    from training.synth.band import PARTS

    grouped = {p for parts in GROUPS.values() for p in parts}
    assert set(PARTS) <= grouped and STEMS == ("drums", "bass", "other", "melody")


@pytest.mark.torch
def test_augmented_crops_keep_the_mix_the_sum_of_the_stems():
    import torch

    from training.separate.crops import StemAugment, StemCrops

    rng = np.random.default_rng(3)
    clips = StemClips(rng.standard_normal((3, 4, 22050)).astype(np.float16) * np.float16(0.1), ["a", "b", "c"])
    torch.manual_seed(0)
    crops = StemCrops(clips, 0.5, 22050, 128, StemAugment(room_prob=1.0, eq_prob=1.0, drop_prob=0.0))
    mix, stems = crops[0]
    assert mix.shape == (1, 11008) and stems.shape == (4, 11008)
    np.testing.assert_allclose(mix[0].numpy(), stems.sum(0).numpy(), atol=1e-6)
    assert float(mix.abs().max()) <= 10 ** (-1 / 20) + 1e-6
    plain = StemCrops(clips, 0.5, 22050, 128, None)[1][1]
    assert any(np.allclose(plain.numpy(), clips.stems[i, :, s:s + 11008].astype(np.float32))
               for i in range(3) for s in range(0, 22050 - 11008 + 1))


@pytest.mark.torch
@pytest.mark.fluidsynth
def test_a_few_steps_lower_the_loss_and_the_best_checkpoint_exports_streaming(band_set, tmp_path):
    from export.api import CardFields, export_model
    from export.checkpoint import load_checkpoint, training_info
    from models.separator import SeparatorConfig
    from rtmir.session import StreamingSession
    from training.separate.config import SeparateConfig
    from training.separate.train import train

    config = SeparateConfig(model=SeparatorConfig(width=16, num_layers=1), train_dir=str(band_set),
                            val_dir=str(band_set), cache_dir=str(tmp_path / "cache"), out_dir=str(tmp_path / "run"),
                            crop_s=1.0, batch_size=4, lr=1e-2, warmup_steps=1, max_steps=30, max_minutes=5.0,
                            val_every_minutes=100.0, val_clips=3, loader_workers=0, threads=1)
    result = train(config, command="pytest smoke")
    assert result.steps == 30 and np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    entry = result.history[-1]
    assert np.isfinite(entry["mean"]) and entry["n_drums"] + entry["n_bass"] + entry["n_melody"] > 0
    model = load_checkpoint(result.best_path)
    assert training_info(result.best_path)["stem_groups"]["melody"] == ["melody", "double"]
    card = export_model(model, CardFields(name="sep-smoke", task="separate"), tmp_path / "sep.onnx")
    assert [o.name for o in card.outputs] == list(STEMS)
    outs = StreamingSession(tmp_path / "sep.onnx").process(np.zeros((1, 128 * 4), np.float32))
    assert set(outs) >= set(STEMS)
