"""The PyTorch Dataset: shapes, crops on the label grid, reproducible with torch.manual_seed."""
from __future__ import annotations

import numpy as np
import pytest

import torch  # the train extra; these tests are marked torch

from training.synth.build import BuildConfig, SoundfontInfo, make_example  # noqa: E402
from training.synth.dataset import CropConfig, SynthDataset  # noqa: E402
from training.synth.manifest import open_manifest  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.fluidsynth]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, fonts, renderer):
    out = tmp_path_factory.mktemp("ds")
    cfg = BuildConfig("multi", "train", seed=2, duration_s=3.0, soundfonts=("TimGM6mb",))
    open_manifest(out, cfg, 3)
    path, offset = fonts("TimGM6mb")
    for i in range(3):
        make_example(cfg, out, i, [SoundfontInfo("TimGM6mb", str(path), offset)], renderer)
    return out


def test_items(dataset_dir):
    ds = SynthDataset(dataset_dir, CropConfig(crop_s=1.0, sample_rate=16000, channels=1,
                                              stems=("melody", "bass", "pad")))
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert item["audio"].shape == (1, 16000) and item["audio"].dtype == torch.float32
        assert item["f0"].shape == (100,) and item["activity"].shape == (13, 100)
        assert item["stems"].shape == (3, 1, 16000)
        assert 0 <= float(item["start_s"]) <= 2.0


def test_crop_matches_labels(dataset_dir):
    """The crop's f0 is the file's f0 from the crop start."""
    ds = SynthDataset(dataset_dir, CropConfig(crop_s=1.0, sample_rate=None, channels=2))
    torch.manual_seed(0)
    item = ds[1]
    start = int(round(float(item["start_s"]) * 100))
    f0 = np.load(dataset_dir / "000001" / "labels.npz")["f0_melody"]
    assert np.array_equal(item["f0"].numpy(), f0[start:start + 100])


def test_reproducible_with_manual_seed(dataset_dir):
    ds = SynthDataset(dataset_dir, CropConfig(crop_s=1.0))
    torch.manual_seed(3)
    a = [float(ds[i]["start_s"]) for i in range(3)]
    torch.manual_seed(3)
    assert a == [float(ds[i]["start_s"]) for i in range(3)]


def test_validation_crops_start_at_zero(dataset_dir):
    ds = SynthDataset(dataset_dir, CropConfig(crop_s=1.0, random_crop=False))
    assert float(ds[0]["start_s"]) == 0.0


def test_refuses_a_folder_without_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest"):
        SynthDataset(tmp_path)
