"""Tagging on the training core: metrics equal their definitions, targets sit at the described
instant, and a few-step run on a tiny rendered band set lowers the loss and exports a streaming
model whose card names the tags."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.tags.crops import targets_at
from training.tags.metrics import average_precision, macro, per_family, roc_auc, segments


def test_roc_auc_and_average_precision_match_their_definitions():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.3
    s = np.round(rng.random(400) + 0.4 * y, 1)  # ties on purpose
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc(y, s) == pytest.approx(pairs, abs=1e-12)
    ap = 0.0  # sum over distinct thresholds of precision x the recall gained there
    for th in np.unique(s)[::-1]:
        sel = s >= th
        ap += (y & sel).sum() / sel.sum() * (y & (s == th)).sum() / y.sum()
    assert average_precision(y, s) == pytest.approx(ap, abs=1e-12)
    assert roc_auc(y, y.astype(float)) == 1.0 and average_precision(y, y.astype(float)) == 1.0
    assert np.isnan(roc_auc(np.ones(5), np.arange(5))) and np.isnan(average_precision(np.zeros(5), np.arange(5)))
    figs = per_family(np.stack([y, np.zeros(400)]), np.stack([s, s]), ("a", "b"))
    assert macro(figs, "auc") == figs["a"]["auc"]  # a family without positives is left out


def test_targets_are_the_labels_at_each_output_instant():
    labels = np.zeros((2, 100), np.float32)
    labels[0, 40:60] = 1
    labels[1, 90:] = 1
    # hop 320 (20 ms), latency 512: frame k ends at (k + 1) * 320 and describes 32 ms before
    y = targets_at(labels, 0, 50, 320, 512)
    instants = (320 * np.arange(1, 51) - 512) / 16000
    expect0 = np.array([1.0 if 0.395 <= t < 0.595 else 0.0 for t in instants])
    np.testing.assert_array_equal(y[0], expect0)
    assert y[1, -1] == 1 and y[:, 0].sum() == 0  # frame 0 describes an instant before the clip
    shifted = targets_at(labels, 1600, 10, 320, 512)  # a crop 0.1 s in
    np.testing.assert_array_equal(shifted, y[:, 5:15])
    assert segments(np.array([[0, 1, 0, 0, 0, 0, 1]]), 3, "max").tolist() == [[1, 0]]


@pytest.mark.torch
@pytest.mark.fluidsynth
def test_a_few_steps_lower_the_loss_and_the_best_checkpoint_exports_streaming(band_set, tmp_path):
    import dataclasses

    from export.api import CardFields, export_model
    from export.checkpoint import load_checkpoint, training_info
    from models.frontend import LogMelConfig
    from rtmir.session import StreamingSession
    from training.synth.activity import TAGS
    from training.tags.config import DEFAULT_MODEL, TagsConfig
    from training.tags.train import train

    model = dataclasses.replace(DEFAULT_MODEL, width=16, num_layers=1,
                                mel=LogMelConfig(sample_rate=16000, n_fft=512, hop_size=320, n_mels=16, method="conv"))
    config = TagsConfig(model=model, train_dir=str(band_set), val_dir=str(band_set), cache_dir=str(tmp_path / "cache"),
                        out_dir=str(tmp_path / "run"), crop_s=1.0, batch_size=4, lr=1e-2, warmup_steps=1, max_steps=25,
                        max_minutes=5.0, val_every_minutes=100.0, val_clips=3, loader_workers=0, threads=1)
    result = train(config, command="pytest smoke")
    assert result.steps == 25 and np.mean(result.losses[-5:]) < 0.8 * np.mean(result.losses[:5])
    entry = result.history[-1]
    assert 0.0 <= entry["auc"] <= 1.0 and np.isfinite(entry["ap"])
    info = training_info(result.best_path)
    assert info["label_convention"]["name"] == "sounding-v1" and "--kind band" in info["datasets"]["train"]["command"]
    trained = load_checkpoint(result.best_path)
    card = export_model(trained, CardFields(name="tags-test", task="tags", version="0.0.1"), tmp_path / "t.onnx")
    assert card.outputs[0].labels == list(TAGS) and card.hop == 320 and card.latency_samples == 256
    session = StreamingSession(tmp_path / "t.onnx")
    x = np.random.default_rng(1).standard_normal((1, 3200)).astype(np.float32) * 0.1
    whole = session.process(x)["logits"].copy()
    session.reset()
    parts = np.concatenate([session.process(x[:, i:i + 640])["logits"].copy() for i in range(0, 3200, 640)], axis=-1)
    np.testing.assert_allclose(parts, whole, atol=1e-4)
    # a second stage starts from the best checkpoint's weights; another model config is refused
    import torch

    from training.tags.task import TagsTask

    stage2 = dataclasses.replace(config, init_checkpoint=str(result.best_path), out_dir=str(tmp_path / "run2"))
    started = TagsTask(stage2, None, None).build_model()
    for key, value in trained.state_dict().items():
        assert torch.equal(started.state_dict()[key], value), key
    other = dataclasses.replace(stage2, model=dataclasses.replace(model, width=8))
    with pytest.raises(ValueError, match="another model config"):
        TagsTask(other, None, None).build_model()


def test_entries_exits_reaction_and_solo_false_alarms():
    from training.tags.eval_metrics import on_grid, reaction_times, solo_false_alarms, summary, transitions

    act = np.zeros(600)
    act[100:300] = 1
    act[310:400] = 1  # a 0.1 s rest inside the part: not an exit and entry
    act[500:520] = 1  # too short to be an entry
    assert transitions(act) == ([100], [400])
    labels = np.stack([act, np.r_[np.zeros(300), np.ones(300)]])
    probs = np.zeros((2, 600))
    probs[0, 112:405] = 0.9  # 120 ms late in, 50 ms late out
    probs[1, 350:] = 0.8  # 0.5 s late; the second family is alone from 400 to 500
    probs[0, 450:460] = 0.7  # a false alarm while family 1 plays solo
    r = reaction_times(labels, probs)
    assert r["reaction"] == [0.12, 0.5] and r["release"] == [0.05]
    alarms, minutes = solo_false_alarms(labels, probs)
    solo_frames = 200 + 10 + 100 + 80  # 100-300 and 300-310, 400-500, 520-600: exactly one family sounds
    # one alarm (450); family 0 still above 0.5 in 300-310 and 400-405 is its release, not an alarm
    assert alarms == 1 and minutes == pytest.approx(solo_frames / 100 / 60)
    s = summary([0.1, 0.2, float("nan"), 0.3])
    assert s["median_s"] == 0.2 and s["missed"] == 0.25
    grid = on_grid(np.array([0.005, 0.025]), np.array([[1.0, 2.0]]), 4)
    assert grid.tolist() == [[0.0, 1.0, 1.0, 2.0]]
    on = on_grid(np.array([0.01, 0.03]), np.array([[1.0, 2.0]]), 4)  # an estimate at k / 100 s counts for frame k
    assert on.tolist() == [[0.0, 1.0, 1.0, 2.0]]
    burst = np.zeros(600)
    burst[80:90] = 1  # a short burst 0.1 s before the part: not silence, so no entry at 100
    burst[100:300] = 1
    burst[590:600] = 1
    assert transitions(burst) == ([], [300])
    late = np.zeros((1, 600))
    late[0, 450:] = 1  # an entry 1.5 s before the end cannot be timed over 2 s: not scored
    assert reaction_times(late, np.ones((1, 600)))["reaction"] == []


@pytest.mark.torch
@pytest.mark.fluidsynth
def test_the_evaluation_scores_a_streamed_candidate_and_the_baseline(band_set, tmp_path):
    import torch

    from export.api import CardFields, export_model
    from models.frontend import LogMelConfig
    from models.nets import FrameModel, FrameModelConfig
    from training.synth.activity import TAGS
    from training.tags.data import load_split
    from training.tags.evaluate import baseline, candidate, evaluate, markdown

    torch.manual_seed(0)
    model = FrameModel(FrameModelConfig(mel=LogMelConfig(n_fft=512, hop_size=320, n_mels=16, method="conv"),
                                        body="lstm", width=8, num_layers=1, n_outputs=len(TAGS), labels=TAGS))
    export_model(model, CardFields(name="t", task="tags", version="0.0.1"), tmp_path / "t.onnx")
    clips = load_split(band_set, tmp_path / "cache")
    methods = {"cand": candidate(str(tmp_path / "t.onnx")), "baseline": baseline(str(band_set), 6, str(tmp_path / "cache"))}
    times, probs = methods["cand"](clips.audio[0])
    assert probs.shape == (13, len(times)) and np.all(np.diff(times) > 0) and times[0] == pytest.approx(0.02)
    res = evaluate(methods, clips, ["clean"], seed=0)
    from training.tags.eval_metrics import MAX_REACTION_S, RATE, transitions

    expected_entries = sum(k + MAX_REACTION_S * RATE <= lab.shape[1] for lab in clips.labels for row in lab
                           for k in transitions(row)[0])
    for name in methods:
        f = res[name]["clean"]
        assert 0 <= f["auc"] <= 1 and 0 <= f["ap"] <= 1 and res[name]["cpu_s_per_s"] > 0
        assert f["reaction"]["count"] == expected_entries and f["solo_minutes"] > 0
    assert res["baseline"]["clean"]["auc"] > 0.75  # fit and scored on the same six pieces: it must have learnt them
    assert "| cand |" in markdown(res, ["clean"], "## t")


@pytest.mark.torch
def test_the_lookahead_variant_trains_against_earlier_instants():
    from types import SimpleNamespace

    from training.tags.config import TagsConfig, load_config
    from training.tags.task import target_latency

    model = SimpleNamespace(latency_samples=512)
    assert target_latency(model, TagsConfig()) == 512
    assert target_latency(model, TagsConfig(lookahead_s=1.5)) == 512 + 24000
    configs = Path(__file__).resolve().parents[3] / "training" / "tags" / "configs"
    assert load_config(configs / "tags-lstm-lookahead.json").lookahead_s == 1.5
    assert load_config(configs / "tags-tcn.json").model.body == "tcn" and load_config(configs / "tags-lstm.json")
