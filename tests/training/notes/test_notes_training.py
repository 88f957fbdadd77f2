"""The notes task on the training core: targets in the decoder's layout, pooled note F1 equal to
mir_eval's per-clip counts, and a few-step run on a tiny aligned band set that lowers the loss,
validates through the runtime's decoder and exports a streaming model the runtime opens."""
from __future__ import annotations

import numpy as np
import pytest

from rtmir.tasks.note_decoder import DRUM, FRAME, LOWEST_PITCH, N_OUTPUTS, OFFSET, ONSET
from training.notes.labels import Note, targets
from training.notes.metrics import NoteScore


def test_targets_mark_onsets_frames_offsets_and_drum_hits():
    notes = [Note(0.10, 0.50, 60, 90, "chords", False), Note(0.30, 0.31, 38, 100, "drums", True),
             Note(0.99, 2.0, 108, 80, "melody", False)]  # starts in the last frame: onset and frame only
    y = targets(notes, 100)
    i = 60 - LOWEST_PITCH
    assert y.shape == (N_OUTPUTS, 100)
    assert np.flatnonzero(y[ONSET + i]).tolist() == [10, 11] and np.flatnonzero(y[FRAME + i]).tolist() == list(range(10, 50))
    assert np.flatnonzero(y[OFFSET + i]).tolist() == [49, 50]
    assert np.flatnonzero(y[DRUM + 1]).tolist() == [30, 31] and y[DRUM].sum() == 0
    assert y[ONSET + 87, 99] == y[FRAME + 87, 99] == 1 and y.sum() == 2 + 40 + 2 + 2 + 1 + 1


def test_pooled_counts_match_mir_eval_on_each_clip():
    from mir_eval.transcription import precision_recall_f1_overlap

    rng = np.random.default_rng(3)
    score, tps = NoteScore(), []
    for _ in range(4):
        on = np.sort(rng.uniform(0, 5, 20))
        ref = [Note(float(t), float(t + rng.uniform(0.1, 0.6)), int(rng.integers(40, 80)), 80, "", False) for t in on]
        est = []
        for n in ref:
            if rng.random() < 0.8:
                t = max(0.0, n.onset_s + float(rng.normal(0, 0.04)))
                est.append(Note(t, max(t + 0.05, n.offset_s + float(rng.normal(0, 0.1))), n.pitch, 80, "", False))
        est += [Note(float(t), float(t) + 0.2, 50, 80, "", False) for t in rng.uniform(0, 5, 3)]
        score.add(ref, est)
        iv = lambda ns: np.array([[n.onset_s, n.offset_s] for n in ns])  # noqa: E731
        hz = lambda ns: 440.0 * 2 ** ((np.array([n.pitch for n in ns]) - 69) / 12)  # noqa: E731
        p, r, f, _ = precision_recall_f1_overlap(iv(ref), hz(ref), iv(est), hz(est), offset_ratio=None)
        tps.append((round(r * len(ref)), len(ref), len(est)))
    assert score.onset.tp == sum(t for t, _, _ in tps) and score.onset.ref == 80
    assert score.onset.f1() == pytest.approx(2 * score.onset.tp / (80 + sum(e for *_, e in tps)))
    assert 0 < score.onset_offset.tp < score.onset.tp


@pytest.fixture(scope="module")
def aligned_band(tmp_path_factory):
    from training.synth.__main__ import main as synth_main

    out = tmp_path_factory.mktemp("notes-smoke") / "band"
    assert synth_main(["--kind", "band", "--split", "train", "--n", "4", "--duration", "3", "--seed", "5", "--out",
                       str(out), "--workers", "1", "--no-augment", "--soundfont", "TimGM6mb", "--labels", "aligned"]) == 0
    return out


@pytest.mark.torch
@pytest.mark.fluidsynth
def test_a_few_steps_lower_the_loss_and_the_best_checkpoint_exports_for_the_runtime(aligned_band, tmp_path):
    import dataclasses

    from export.api import CardFields, export_model
    from export.checkpoint import load_checkpoint, training_info
    from models.frontend import LogMelConfig
    from rtmir import BlockAdapter, ProcessSpec, StreamingSession
    from rtmir.tasks.notes import NotesProcessor
    from training.notes.config import DEFAULT_MODEL, NotesConfig
    from training.notes.train import train

    model = dataclasses.replace(DEFAULT_MODEL, width=16, dilations=(1, 2),
                                mel=LogMelConfig(sample_rate=16000, n_fft=512, hop_size=160, n_mels=32, method="rfft"))
    config = NotesConfig(model=model, train_dir=str(aligned_band), val_dir=str(aligned_band), cache_dir=str(tmp_path / "c"),
                         out_dir=str(tmp_path / "run"), crop_s=1.0, batch_size=4, lr=1e-2, warmup_steps=1, max_steps=20,
                         max_minutes=5.0, val_every_minutes=100.0, val_clips=2, loader_workers=0, threads=1)
    result = train(config, command="pytest smoke")
    assert result.steps == 20 and np.mean(result.losses[-4:]) < 0.7 * np.mean(result.losses[:4])
    entry = result.history[-1]
    assert 0.0 <= entry["onset_f1"] <= 1.0 and "onset_offset_f1" in entry
    info = training_info(result.best_path)
    assert info["label_convention"]["name"] == "notes-aligned-v1" and info["label_convention"]["aligned"]["name"] == "aligned-v1"
    from export.__main__ import with_probabilities

    trained = load_checkpoint(result.best_path)
    fields = CardFields(name="notes-test", task="notes", version="0.0.1")
    card = export_model(with_probabilities(trained), fields, tmp_path / "n.onnx")
    assert card.latency_samples == 640 and card.hop == 160 and len(card.outputs[0].labels) == N_OUTPUTS
    assert (card.outputs[0].name, card.outputs[0].unit) == ("probs", "probability")
    export_model(trained, fields, tmp_path / "logits.onnx")  # the same weights, logits out: the same notes
    x0 = np.random.default_rng(2).standard_normal(8000).astype(np.float32) * 0.3
    a, b = (NotesProcessor(StreamingSession(tmp_path / f)) for f in ("n.onnx", "logits.onnx"))
    np.testing.assert_allclose(a.probabilities(a.session.process(x0[None])["probs"][0]).copy(),
                               b.probabilities(b.session.process(x0[None])["logits"][0]), atol=1e-5)
    proc = NotesProcessor(StreamingSession(tmp_path / "n.onnx"))
    proc.set_param("onset_threshold", 0.05)  # an untrained model: low thresholds so that notes come out
    proc.set_param("frame_threshold", 0.05)
    x = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.3
    proc.reset()
    whole = proc.process(x[None], 0)
    assert whole
    for block in (64, 1000):
        adapter = BlockAdapter(proc)
        adapter.prepare(ProcessSpec(16000, block, 1))
        streamed = []
        for i in range(0, len(x), block):
            streamed += adapter.push(x[None, i:i + block])
        streamed += adapter.push(np.zeros((1, 640), np.float32))[: len(whole) - len(streamed)]
        assert [(e.t, e.values) for e in streamed[:len(whole)]] == [(e.t, e.values) for e in whole]
    # the evaluation streams it like a user and scores every input; tuning picks thresholds from the grid
    from training.notes.evaluate import GRID, Ours, evaluate, markdown, tune

    res = evaluate(str(aligned_band), {"ours": Ours(str(tmp_path / "n.onnx"), thresholds={"onset_threshold": 0.05})})
    figures = res["methods"]["ours"]
    assert res["clips"] == 4 and figures["mix"]["onset"]["n_ref"] > 0 and figures["cpu_s_per_s"] > 0
    assert {"mix", "melody", "bass", "other"} >= set(k for k in figures if k != "cpu_s_per_s")
    assert "| mix | ours |" in markdown(res)
    chosen = tune(str(aligned_band), str(tmp_path / "n.onnx"), limit=2)
    assert all(chosen["thresholds"][k] in GRID[k] for k in GRID) and 0 <= chosen["figures"]["onset"]["f1"] <= 1
