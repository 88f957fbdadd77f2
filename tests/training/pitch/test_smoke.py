"""A few-step training run on a tiny synthesized set: the loss goes down, the checkpoint rebuilds.

Renders 8 two-second mono clips with FluidSynth (training.synth; needs the Debian soundfonts),
trains a tiny PitchTCN for 20 steps, and loads the best checkpoint back with export/.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    from training.synth.__main__ import main as synth_main

    out = tmp_path_factory.mktemp("pitch-smoke") / "mono"
    rc = synth_main(["--kind", "mono", "--split", "train", "--n", "8", "--duration", "2", "--seed", "3",
                     "--out", str(out), "--workers", "1", "--no-augment", "--soundfont", "TimGM6mb"])
    assert rc == 0
    return out


def test_twenty_steps_lower_the_loss_and_save_a_loadable_checkpoint(tiny_set, tmp_path):
    from export.checkpoint import load_checkpoint, training_info
    from models.pitch import PitchTCN, PitchTCNConfig
    from training.pitch.config import TrainConfig
    from training.pitch.train import train

    config = TrainConfig(model=PitchTCNConfig(width=16, dilations=(1, 2)), train_dir=str(tiny_set),
                         val_dir=str(tiny_set), cache_dir=str(tmp_path / "cache"), out_dir=str(tmp_path / "run"),
                         crop_s=0.5, batch_size=4, lr=3e-3, warmup_steps=1, max_steps=20, max_minutes=5.0,
                         val_every_minutes=100.0, val_clips=2, loader_workers=0, threads=1)
    result = train(config, command="pytest smoke", data_recipe="8 TimGM6mb clips")
    assert result.steps == 20 and len(result.losses) == 20
    assert np.mean(result.losses[-4:]) < 0.8 * np.mean(result.losses[:4])
    model = load_checkpoint(result.best_path)
    assert isinstance(model, PitchTCN) and model.config == config.model
    info = training_info(result.best_path)
    assert info["command"] == "pytest smoke" and info["seed"] == 0 and info["steps"] == 20
    assert dataclasses.asdict(config)["crop_s"] == info["config"]["crop_s"]


def test_a_larger_model_warm_starts_from_a_smaller_checkpoint_with_onset_weighting(tiny_set, tmp_path):
    from export.checkpoint import load_checkpoint
    from models.pitch import PitchTCNConfig
    from training.pitch.config import TrainConfig
    from training.pitch.train import train

    small = TrainConfig(model=PitchTCNConfig(width=16, dilations=(1, 2)), train_dir=str(tiny_set),
                        val_dir=str(tiny_set), cache_dir=str(tmp_path / "cache"), out_dir=str(tmp_path / "small"),
                        crop_s=0.5, batch_size=4, lr=3e-3, warmup_steps=1, max_steps=3, max_minutes=5.0,
                        val_every_minutes=100.0, val_clips=2, loader_workers=0, threads=1)
    first = train(small)
    large = dataclasses.replace(small, model=PitchTCNConfig(width=24, dilations=(1, 2), front_hidden=16),
                                out_dir=str(tmp_path / "large"), init_checkpoint=str(first.best_path),
                                onset_weight=3.0, onset_hops=4, max_steps=3, val_conditions=("clean", "white10"))
    second = train(large)
    assert second.steps == 3 and np.isfinite(second.losses).all()
    # validated in both conditions; the entry's top-level figures are the first condition's
    entry = second.history[-1]
    assert set(entry["conditions"]) == {"clean", "white10"} and entry["rpa"] == entry["conditions"]["clean"]["rpa"]
    with pytest.raises(ValueError, match="unknown condition 'underwater'"):
        train(dataclasses.replace(large, val_conditions=("clean", "underwater")))  # refused before any data is read
    # step 1 of the grown run starts from the small model's function: its loss is no worse than
    # a fresh model's first loss
    assert second.losses[0] < first.losses[0]
    assert load_checkpoint(second.best_path).config == large.model
    # shipping: the card carries both stages (followed back through init_checkpoint) and the figures
    import json

    from rtmir.session import StreamingSession
    from training.pitch.ship import main as ship_main

    measure = {"clips": 2, "voicing_threshold": 0.4, "clean": {"rpa": 0.5, "rca": 0.6, "oa": 0.55, "vr": 0.9, "vfa": 0.2},
               "cpu": {"cpu_s_per_audio_s": 0.01}}
    (tmp_path / "measure.json").write_text(json.dumps(measure))
    out = tmp_path / "pitch.onnx"
    assert ship_main([str(second.best_path), str(tmp_path / "measure.json"), "--out", str(out), "--version", "0.0.1"]) == 0
    card = StreamingSession(out).card
    assert [s["checkpoint"] for s in card.training["stages"]] == [str(first.best_path), str(second.best_path)]
    assert card.evaluation["rpa"] == 0.5 and card.evaluation["voicing_threshold"] == 0.4
    assert card.evaluation["latency_ms"] == 10.0 and "rpa_reverb" not in card.evaluation
    assert card.training["export"]["command"].startswith("python -m training.pitch.ship ")
    assert ship_main([str(second.best_path), str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.onnx"),
                      "--version", "0.0.1"]) == 2 and not (tmp_path / "x.onnx").exists()
