"""The separate processor over exported separators (an all-pass one: every mask 1, so each stem is
the input; and an untrained one): stems as files aligned with the input, streaming = offline at
blocks 1, 64 and 1000 through ``rtmir stream``, click-free gain/mute/solo ramps, levels per hop."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rtmir import ProcessSpec, StreamingSession

pytestmark = pytest.mark.torch
RATE = 22050
STEMS = ("drums", "bass", "other", "melody")


@pytest.fixture(scope="module")
def separators(tmp_path_factory):
    """``(all_pass.onnx, untrained.onnx)``: small separators with a separate card (torch only here)."""
    torch = pytest.importorskip("torch", reason="export needs the train extra")

    from export.api import CardFields, export_model
    from models.separator import MaskSeparator, SeparatorConfig

    folder = tmp_path_factory.mktemp("separators")
    torch.manual_seed(0)
    config = SeparatorConfig(width=16, num_layers=1, hop_size=128)
    untrained = MaskSeparator(config)
    all_pass = MaskSeparator(config)
    head = all_pass.net.layers["head"].module
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(30.0)  # sigmoid(30) = 1 - 1e-13
    paths = []
    for name, model in (("all-pass", all_pass), ("untrained", untrained)):
        paths.append(folder / f"{name}.onnx")
        export_model(model, CardFields(name=name, task="separate", version="0.0.1"), paths[-1])
    return tuple(paths)


def _signal(seconds: float = 2.0, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def _stream(tmp_path, model, x: np.ndarray, rate: int = RATE, block: int = 1024, extra=()) -> dict:
    import soundfile as sf

    wav = tmp_path / f"in{rate}.wav"
    sf.write(wav, x, rate, subtype="FLOAT")
    out = tmp_path / f"stems-{rate}-{block}"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "separate", "--model", str(model),
                        "--block", str(block), "--out-dir", str(out), *extra], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    stems = {s: sf.read(out / f"{s}.wav", dtype="float32")[0] for s in STEMS}
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    return {"stems": stems, "events": events}


def test_all_pass_stems_are_the_input_sample_for_sample(separators, tmp_path):
    x = _signal()
    got = _stream(tmp_path, separators[0], x)
    for s in STEMS:  # the file host compensates the declared latency: aligned with the input
        assert got["stems"][s].shape == x.shape
        np.testing.assert_allclose(got["stems"][s], x, atol=1e-5)
    rows = [e for e in got["events"] if e["task"] == "separate"]
    assert len(rows) == pytest.approx(len(x) / 128, abs=3)
    steady = [r["levels_dbfs"]["melody"] for r in rows if r["t"] > 0.2]
    expect = 10 * np.log10(0.4 ** 2 / 2 + 0.05 ** 2)
    assert np.median(steady) == pytest.approx(expect, abs=0.3)
    assert np.allclose(np.diff([r["t"] for r in rows]), 128 / RATE, atol=2e-6)  # JSONL keeps 6 decimals


def test_resampled_from_the_host_rate_the_stems_still_line_up(separators, tmp_path):
    x = _signal(2.0, 44100)
    got = _stream(tmp_path, separators[0], x, rate=44100)
    y = got["stems"]["bass"]
    assert y.shape == x.shape
    seg = slice(4410, -4410)  # a 22.05 kHz path: the band below 10 kHz comes back (the noise's top half does not)
    corr = float(np.dot(x[seg], y[seg]) / np.sqrt(np.dot(x[seg], x[seg]) * np.dot(y[seg], y[seg])))
    lags = [int(np.argmax(np.correlate(y[20000:24000], x[20000 - 50:24000 + 50], "valid"))) - 50]
    assert corr > 0.9 and lags == [0]


def test_streaming_equals_offline_at_any_block(separators, tmp_path):
    x = _signal(1.5)
    runs = {b: _stream(tmp_path, separators[1], x, block=b) for b in (1, 64, 1000)}
    for s in STEMS:
        ref = runs[1000]["stems"][s]
        assert np.abs(ref).max() > 1e-3  # the untrained masks pass something
        for b in (1, 64):
            assert np.abs(runs[b]["stems"][s] - ref).max() <= 1e-4, (s, b)


def _processor(path, block: int = 512):
    from rtmir.tasks.separate import SeparateProcessor

    p = SeparateProcessor(StreamingSession(path))
    p.prepare(ProcessSpec(RATE, block, 1))
    outs = {s: np.zeros((1, block), np.float32) for s in STEMS}
    return p, outs


def test_gain_changes_ramp_over_10_ms_and_mute_and_solo_combine(separators):
    p, outs = _processor(separators[0], 512)
    x = np.full((1, 512), 0.5, np.float32)
    ramp = int(round(0.010 * RATE))
    played = {s: [] for s in STEMS}
    for k in range(8):
        if k == 2:
            p.set_param("melody_gain", 0.0)  # karaoke: the melody goes
            p.set_param("drums_solo", 1.0)  # and only drums (and other soloed stems) remain
        if k == 5:
            p.set_param("drums_solo", 0.0)
            p.set_param("bass_mute", 1.0)
        p.process(x, k * 512, outs)
        for s in STEMS:
            played[s].append(outs[s][0].copy())
    y = {s: np.concatenate(v) for s, v in played.items()}
    start = 2 * 512
    for s in ("melody", "bass", "other"):  # each falls linearly to 0 over the ramp, no jump
        seg = y[s][start:start + ramp + 1]
        assert seg[-1] == 0.0 and np.abs(np.diff(seg)).max() <= 0.5 / ramp * 1.01 + 1e-6
    np.testing.assert_allclose(y["drums"][start:5 * 512], 0.5, atol=1e-5)  # soloed: untouched
    later = 5 * 512
    assert y["other"][later + ramp + 5] == pytest.approx(0.5, abs=1e-5)  # back when the solo ends
    assert y["bass"][later + ramp + 5] == 0.0 and y["melody"][-1] == 0.0  # muted / gain 0
    assert p.params()["melody_gain"] == 0.0
    with pytest.raises(KeyError, match="melody_gain"):
        p.set_param("vocals_gain", 1.0)
    assert {q.name for q in p.describe().params} >= {f"{s}_{k}" for s in STEMS for k in ("gain", "mute", "solo")}


def test_reset_jumps_to_the_target_and_ports_name_the_stems(separators):
    p, outs = _processor(separators[0], 256)
    p.set_param("other_gain", 2.0)
    p.reset()
    p.process(np.full((1, 256), 0.25, np.float32), 0, outs)
    assert outs["other"][0, -1] == pytest.approx(0.5, abs=1e-5)  # no ramp right after a reset
    desc = p.describe()
    assert [o.name for o in desc.outputs if o.kind == "audio"] == list(STEMS)
    assert desc.latency_samples == 128 and p.hop_size == 128


def test_a_pitch_model_is_refused_in_one_line(tmp_path):
    import soundfile as sf

    from rtmir.zoo import ZOO_DIR

    wav = tmp_path / "x.wav"
    sf.write(wav, _signal(0.5), RATE)
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "separate", "--model",
                        str(ZOO_DIR / "pitch-tcn.onnx")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a mono separator" in r.stderr and len(r.stderr.strip().splitlines()) == 1
