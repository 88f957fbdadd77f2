"""``python -m training.pitch.measure`` end to end on two rendered clips with the shipped model."""
from __future__ import annotations

import json

import numpy as np

import pytest

from rtmir.zoo import ZOO_DIR

pytestmark = [pytest.mark.fluidsynth]


def test_measure_scores_each_condition_and_times_each_block(tmp_path):
    from training.pitch.measure import main as measure_main
    from training.synth.__main__ import main as synth_main

    val = tmp_path / "val"
    assert synth_main(["--kind", "mono", "--split", "val", "--n", "2", "--duration", "3", "--seed", "99",
                       "--out", str(val), "--workers", "1", "--no-augment"]) == 0
    out = tmp_path / "m.json"
    clip = str(val / "000000" / "mix.flac")
    short = tmp_path / "short.flac"
    import soundfile as sf

    x, sr = sf.read(clip)
    sf.write(short, x[: sr // 2], sr)
    rc = measure_main([str(ZOO_DIR / "pitch-tcn.onnx"), "--val", str(val), "--cache", str(tmp_path / "cache"),
                       "--conditions", "clean,reverb", "--choose-threshold", "2", "--cpu-files", clip, str(short),
                       "--cpu-blocks", "2048,256", "--cpu-runs", "1", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["clips"] == 2 and 0.05 <= report["voicing_threshold"] <= 0.95
    for cond in ("clean", "reverb"):
        assert 0.0 <= report[cond]["rpa"] <= 1.0 and report[cond]["voiced_frames"] > 100
    assert report["clean"]["rpa"] > 0.5  # a working model on clean clips, not a constant
    assert [c["block"] for c in report["cpu_by_block"]] == [2048, 256] and report["cpu"]["block"] == 2048
    assert all(c["cpu_s_total"] > 0 for c in report["cpu_by_block"])


def test_the_reliability_diagram_is_written(tmp_path):
    from training.pitch.measure import plot_reliability, reliability

    ref = np.array([0.0, 440.0, 440.0, 220.0] * 50)
    est = np.array([300.0, 440.0, 470.0, 221.0] * 50)
    conf = np.array([0.1, 0.9, 0.8, 0.6] * 50)
    cal = reliability([(ref, est, conf)])
    assert cal["voiced"]["ece"] == pytest.approx((0.1 * 50 + 0.1 * 50 + 0.2 * 50 + 0.4 * 50) / 200)
    assert cal["right"]["bins"][-2]["accuracy"] == 0.0  # the 470 Hz frames (119 cents off) at 0.8
    plot_reliability({"model": "m.onnx", "clean": {"calibration": cal}}, ["clean"], str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").stat().st_size > 1000
