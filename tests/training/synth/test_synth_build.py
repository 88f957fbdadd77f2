"""Examples on disk: stems sum to the mix, audio and labels have the same duration, the family
activity matches the notes (and the audio), and the two render backends agree."""
from __future__ import annotations

import json
import numpy as np
import pytest
import soundfile as sf

from training.synth.arrange import generate_multi
from training.synth.augment import AugmentConfig
from training.synth.build import BuildConfig, SoundfontInfo, make_example
from training.synth.gm import FAMILIES
from training.synth.labels import FRAME_RATE
from training.synth.midi import score_to_midi
from training.synth.render import RenderConfig, render_midi_cli

pytestmark = pytest.mark.fluidsynth

EVERYTHING = AugmentConfig(noise_prob=1.0, reverb_prob=1.0, eq_prob=1.0, mono_prob=0.0,
                           resample_prob=1.0, sample_rates=(22050,))


def _example(tmp_path, fonts, renderer, augment: AugmentConfig | None, index=0, font="TimGM6mb"):
    path, offset = fonts(font)
    cfg = BuildConfig("multi", "train", seed=5, duration_s=6.0, augment=augment is not None,
                      augment_config=augment or AugmentConfig(), soundfonts=(font,))
    make_example(cfg, tmp_path, index, [SoundfontInfo(font, str(path), offset)], renderer)
    folder = tmp_path / f"{index:06d}"
    return folder, json.loads((folder / "meta.json").read_text()), np.load(folder / "labels.npz")


@pytest.mark.parametrize("augment", [None, EVERYTHING], ids=["plain", "all-augmentations"])
def test_stems_sum_to_mix_and_durations_match(tmp_path, fonts, renderer, augment):
    folder, meta, labels = _example(tmp_path, fonts, renderer, augment)
    mix, sr = sf.read(folder / "mix.flac", always_2d=True)
    stems = [sf.read(folder / "stems" / f"{s}.flac", always_2d=True)[0] for s in meta["stems"]]
    # each 24-bit file is rounded once: |sum(stems) - mix| <= (n_stems + 1) * 2^-24
    assert np.abs(sum(stems) - mix).max() <= (len(stems) + 1) * 2.0**-24
    assert sr == meta["sample_rate"] and mix.shape[0] == round(6.0 * sr) == meta["n_samples"]
    assert all(s.shape == mix.shape for s in stems)
    assert labels["activity"].shape == (len(FAMILIES), 6 * FRAME_RATE)
    assert all(labels[f"f0_{s}"].shape == (6 * FRAME_RATE,) for s in meta["f0_stems"])
    if augment is not None:
        assert "noise" in meta["stems"] and sr == 22050
        assert meta["augmentation"]["reverb"] and meta["augmentation"]["eq"]


def test_activity_matches_notes_and_audio(tmp_path, fonts, renderer):
    folder, meta, labels = _example(tmp_path, fonts, renderer, None)
    act = labels["activity"].astype(bool)
    expected = np.zeros_like(act)
    t = np.arange(act.shape[1]) / FRAME_RATE
    for n in meta["notes"]:
        expected[FAMILIES.index(n["family"])] |= (t >= n["onset_s"] - 1e-9) & (t < n["offset_s"] - 1e-9)
    assert np.array_equal(act, expected)
    sr = meta["sample_rate"]
    for stem in meta["stems"]:
        audio = sf.read(folder / "stems" / f"{stem}.flac", always_2d=True)[0].mean(axis=1)
        hop = sr // FRAME_RATE
        rms = np.sqrt(np.mean(audio[: act.shape[1] * hop].reshape(-1, hop) ** 2, axis=1))
        family = meta["score"]["instruments"][stem]
        rows = {n["family"] for n in meta["notes"] if n["stem"] == stem}
        on = np.any([act[FAMILIES.index(f)] for f in rows], axis=0)
        mine = np.zeros_like(on)  # frames where a note of this very stem sounds for sure
        for n in meta["notes"]:
            if n["stem"] == stem:  # drums decay fast: check their first 30 ms only
                end = n["onset_s"] + 0.03 if n["drum"] else n["offset_s"]
                mine |= (t >= n["onset_s"] + (0.0 if n["drum"] else 0.02)) & (t < end)
        assert np.mean(rms[mine] > 1e-4) >= 0.97, (stem, family)
        assert on[mine].all()


def test_lib_backend_equals_cli(fonts, renderer):
    """The in-process renderer gives the CLI's samples exactly, stem by stem."""
    path, _ = fonts("TimGM6mb")
    score = generate_multi(np.random.default_rng(11), 4.0, pad=True)
    for track in score.tracks:
        midi = score_to_midi(score, (track.name,))
        cli = render_midi_cli(midi, path, RenderConfig(44100, backend="cli"))
        lib = renderer.render(midi, path, cli.shape[1])
        assert np.array_equal(cli, lib), track.name


def test_same_seed_same_example(tmp_path, fonts, renderer):
    a, meta_a, _ = _example(tmp_path / "a", fonts, renderer, EVERYTHING, index=3)
    b, meta_b, _ = _example(tmp_path / "b", fonts, renderer, EVERYTHING, index=3)
    assert (a / "mix.flac").read_bytes() == (b / "mix.flac").read_bytes()
    assert (a / "score.mid").read_bytes() == (b / "score.mid").read_bytes()
    assert meta_a == meta_b
