"""``python -m training.pitch.evaluate`` end to end on 2 short rendered clips with rtmir's YIN only:
the outputs, the cache, the in-process runtime matching ``rtmir stream``, bad usage."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.pitch.evaluate import CONDITIONS, apply_condition, condition_params, load_clips, main
from training.pitch.peers import RtmirMethod

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One evaluator run (renders 2 × 1.5 s clips, scores YIN in every condition)."""
    root = tmp_path_factory.mktemp("pitch-eval")
    args = ["--n", "2", "--seconds", "1.5", "--methods", "yin", "--data", str(root / "data"),
            "--cache", str(root / "cache"), "--out", str(root / "out"), "--workers", "1"]
    assert main(args) == 0
    return root, args


def test_writes_table_json_and_plot(run_dir):
    root, _ = run_dir
    out = root / "out"
    record = json.loads((out / "pitch_eval.json").read_text())
    assert (out / "pitch_eval.png").stat().st_size > 10_000
    assert "| yin | 18.2 |" in (out / "pitch_eval.md").read_text()
    yin = record["methods"]["yin"]
    assert yin["lookahead_s"] == pytest.approx(802 / 44100)  # YIN's latency_samples at 44.1 kHz
    assert yin["version"].endswith("-block4096")  # CPU depends on the host block: it keys the cache
    assert yin["cpu_s"] > 0 and yin["audio_s"] == pytest.approx(2 * 1.5 * len(CONDITIONS))
    assert record["set"]["n_clips"] == 2 and record["set"]["soundfont"] == ["MuseScore_General"]
    for cond in CONDITIONS:
        for scoring in ("offline", "causal"):
            values = record["results"]["yin"][cond][scoring].values()
            assert all(0.0 <= v <= 1.0 for v in values)
        # YIN finds most of a clean synthetic melody; the causal score cannot beat the offline one
    clean = record["results"]["yin"]["clean"]
    assert clean["offline"]["raw_pitch_accuracy"] > 0.6
    assert clean["causal"]["raw_pitch_accuracy"] <= clean["offline"]["raw_pitch_accuracy"] + 1e-9
    assert record["run"]["command"].startswith("python -m training.pitch.evaluate --n 2")
    # raw pitch accuracy by frame of the note: pooled counts that add back up to the clip-pooled figure
    by = clean["by_note_frame"]
    assert sum(by["voiced_frames"]) == sum(int((c.ref_f0 > 0).sum()) for c in load_clips(root / "data", 2))
    assert all(0.0 <= v <= 1.0 for v in by["offline"] + by["causal"])
    assert by["offline"][-1] > by["offline"][0]  # the steady part of a note is easier than its first 10 ms
    union = record["any_method"]["clean"]
    assert union["methods"] == ["yin"] and union["offline"] == pytest.approx(by["offline"])
    assert "raw pitch accuracy by frame of the note" in (out / "pitch_eval.md").read_text()


def test_rerun_reads_the_cache_and_gives_the_same_numbers(run_dir):
    root, args = run_dir
    first = json.loads((root / "out" / "pitch_eval.json").read_text())
    assert main(args + ["--no-plot"]) == 0
    second = json.loads((root / "out" / "pitch_eval.json").read_text())
    assert second["methods"]["yin"]["cached_runs"] == 2 * len(CONDITIONS)
    assert second["results"] == first["results"]
    assert second["methods"]["yin"]["cpu_s"] == first["methods"]["yin"]["cpu_s"]


def test_conditions_are_seeded_and_distinct(run_dir):
    root, _ = run_dir
    clip = load_clips(root / "data", 1)[0]
    audio = {c: apply_condition(clip, condition_params(c, 606, 0)) for c in CONDITIONS}
    np.testing.assert_array_equal(audio["noisy"], apply_condition(clip, condition_params("noisy", 606, 0)))
    noise = audio["noisy"] - audio["clean"]
    snr = 10 * np.log10(np.mean(audio["clean"] ** 2) / np.mean(noise ** 2))
    assert snr == pytest.approx(10.0, abs=0.5)  # 10 dB on the stereo mix, ~10 dB on its mono downmix
    assert not np.allclose(audio["reverb"], audio["clean"])


def test_in_process_runtime_matches_rtmir_stream(run_dir, tmp_path):
    import soundfile as sf

    root, _ = run_dir
    clip = load_clips(root / "data", 1)[0]
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip.audio, clip.sample_rate, subtype="FLOAT")
    jsonl = tmp_path / "events.jsonl"
    proc = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "yin", "--block", "512",
                           "--jsonl", str(jsonl)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    events = [e for e in events if e.get("task") == "yin"]
    method = RtmirMethod("yin", "yin")
    method.prepare()
    track = method.estimate(clip.audio, clip.sample_rate)
    np.testing.assert_allclose(track.times, [e["t"] for e in events], atol=1e-6)
    np.testing.assert_allclose(track.f0_hz, [e["f0_hz"] for e in events], rtol=1e-5)
    np.testing.assert_array_equal(track.voiced, [e["voiced"] for e in events])


@pytest.mark.parametrize("args, words", [
    (["--methods", "crepe-huge"], ["crepe-huge"]),
    (["--conditions", "underwater"], ["underwater"]),
    (["--limit", "crepe-full"], ["--limit"]),
    (["--n", "0"], ["--n"]),
], ids=["unknown-method", "unknown-condition", "bad-limit", "zero-clips"])
def test_bad_usage_is_one_line_and_exit_2(args, words, capsys, tmp_path):
    assert main(args + ["--out", str(tmp_path / "out"), "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and all(w in err[0] for w in words)
    assert not (tmp_path / "data").exists()


def test_a_method_that_cannot_run_is_reported_not_fatal(run_dir, tmp_path):
    root, _ = run_dir
    args = ["--n", "2", "--seconds", "1.5", "--methods", "ours", "--model", str(tmp_path / "missing.onnx"),
            "--data", str(root / "data"), "--cache", str(root / "cache"), "--out", str(tmp_path), "--no-plot"]
    assert main(args) == 0
    record = json.loads((tmp_path / "pitch_eval.json").read_text())
    assert "missing.onnx" in record["methods"]["ours"]["skipped"]
    assert "skipped" in (tmp_path / "pitch_eval.md").read_text()
