"""Codec training: the mel distance equals the issue's definition (librosa) and the torch loss
equals it, crops are mixes or solo stems at the drawn level, and a few-step run on a tiny
rendered band set lowers the loss and records codebook health."""
from __future__ import annotations

import numpy as np
import pytest

from training.codec.metrics import MEL_FFTS, log_mel, mel_distance


def test_log_mel_is_the_issues_definition():
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(0).standard_normal(24000) * 0.1
    for n in MEL_FFTS:
        ref = librosa.feature.melspectrogram(y=x, sr=24000, n_fft=n, hop_length=n // 4, power=1.0, n_mels=80,
                                             fmin=0, fmax=12000, center=True, pad_mode="constant")
        np.testing.assert_allclose(log_mel(x, n), np.log10(np.maximum(ref, 1e-5)), atol=1e-9)


def test_mel_distance_is_zero_for_identity_and_grows_with_noise():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(12000) * 0.1
    assert mel_distance(x, x) == 0.0
    near, far = mel_distance(x, x + 0.01 * rng.standard_normal(12000)), mel_distance(x, x + 0.1 * rng.standard_normal(12000))
    assert 0 < near < far
    with pytest.raises(ValueError, match="equal lengths"):
        mel_distance(x, x[:-1])


@pytest.mark.torch
def test_the_training_loss_at_the_metrics_sizes_is_the_metric():
    import torch

    from training.codec.losses import MultiScaleMelLoss

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(24000) * 0.1, rng.standard_normal(24000) * 0.1
    loss = MultiScaleMelLoss(24000, MEL_FFTS)(torch.tensor(x[None]).float(), torch.tensor(y[None]).float())
    assert float(loss) == pytest.approx(mel_distance(x, y), rel=1e-4)


@pytest.mark.torch
def test_crops_are_mixes_or_solo_stems_at_the_drawn_level():
    import torch

    from training.codec.crops import CodecCrops
    from training.separate.crops import StemAugment
    from training.separate.data import StemClips

    rng = np.random.default_rng(3)
    stems = (rng.standard_normal((2, 4, 24000)) * 0.1).astype(np.float16)
    stems[:, 1] = 0  # a silent stem is never a solo
    clips = StemClips(stems, ["a", "b"])
    torch.manual_seed(0)
    crops = CodecCrops(clips, 0.5, 24000, 160, StemAugment(remix_prob=0, drop_prob=0, eq_prob=0, room_prob=0,
                                                           gain_db=(0.0, 0.0)), solo_prob=1.0, level_dbfs=(-6.0, -6.0))
    x = crops[0]
    assert x.shape == (1, 12000) and float(x.abs().max()) == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    assert float(x.abs().max()) > 0
    crops.solo_prob = 0.0
    assert crops[1].shape == (1, 12000)


@pytest.mark.torch
@pytest.mark.fluidsynth
def test_a_few_steps_lower_the_loss_and_record_codebook_health(band_set, tmp_path):
    from export.checkpoint import load_checkpoint, training_info
    from models.rvq import RVQConfig
    from models.spectral_codec import SpectralCodecConfig
    from training.codec.config import CodecTrainConfig
    from training.codec.train import train

    model = SpectralCodecConfig(width=16, encoder_dilations=(1,), decoder_dilations=(1, 2), phase="integrated",
                                rvq=RVQConfig(dim=8, n_quantizers=2, codebook_size=64, dead_threshold=0.05))
    config = CodecTrainConfig(model=model, train_dir=str(band_set), val_dir=str(band_set),
                              cache_dir=str(tmp_path / "cache"), out_dir=str(tmp_path / "run"), crop_s=0.5,
                              batch_size=4, lr=3e-3, warmup_steps=1, max_steps=40, max_minutes=5.0,
                              val_every_minutes=100.0, val_every_steps=20, val_clips=2, loader_workers=0,
                              threads=1, kmeans_batches=2)
    result = train(config, command="pytest smoke")
    assert result.steps == 40 and np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    entry = result.history[-1]
    # 64 codes are 6 bits: 150 frames/s x 6 bits = 0.9 kbps per stage
    assert {"mel_0.9kbps", "mel_1.8kbps", "perplexity_1", "perplexity_2", "used_fraction"} <= set(entry)
    assert 0 < entry["mel_1.8kbps"] < 2 and 1 <= entry["perplexity_1"] <= 64
    assert training_info(result.best_path)["config"]["model"]["phase"] == "integrated"
    assert load_checkpoint(result.best_path).family == "spectral_codec"
