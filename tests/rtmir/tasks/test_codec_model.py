"""The shipped codec (``rtmir/zoo/codec-enc.onnx`` + ``codec-dec.onnx``, or the encoder named by
``$RTMIR_TEST_CODEC_MODEL``) through the runtime, no torch: its cards, tokens bit-identical
between ``rtmir stream --task codec`` at several blocks and ``rtmir codec encode``, decoded files
with the input's rate and length that line up with it, bitrates, simulated packet loss, the
encoder -> decoder graph, every bad input (exit 2, nothing written), and a mel-distance floor on a
freshly rendered MuseScore_General piece."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtmir.codec.files import CODEC_MODEL, CodecPair
from rtmir.zoo import ZOO_DIR

ENCODER = Path(os.environ.get("RTMIR_TEST_CODEC_MODEL", ZOO_DIR / f"{CODEC_MODEL}-enc.onnx"))
MODEL_ARGS = ["--model", str(ENCODER)] if "RTMIR_TEST_CODEC_MODEL" in os.environ else []
RATE = 24000
# codec 0.1.0 measured 0.078 on the piece below (a band piece with rests: lower than the 0.244 of the
# evaluation's dense mixes); only a regression fails
MEL_CEILING = float(os.environ.get("RTMIR_TEST_CODEC_MEL_CEILING", "0.15"))

pytestmark = pytest.mark.skipif(not ENCODER.is_file(), reason=f"no codec shipped ({ENCODER} missing)")


def _rtmir(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtmir", *args], capture_output=True, text=True, timeout=timeout)


def _music(seconds: float = 2.0, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sign(np.sin(2 * np.pi * 440 * t)) * (t > 0.7)
    x += (rng.random(len(t)) < 0.0005) * rng.standard_normal(len(t)) * 0.5
    return x.astype(np.float32)


def _wav(tmp_path: Path, x: np.ndarray, rate: int = RATE, name: str = "in.wav") -> Path:
    p = tmp_path / name
    sf.write(p, x, rate, subtype="FLOAT")
    return p


def _rtq_tokens(path: Path) -> np.ndarray:
    from rtmir.codec.container import read_blocks, read_header

    with open(path, "rb") as f:
        h = read_header(f)
        return np.concatenate([c for _, c, _ in read_blocks(f, h, f.tell())])


def test_the_cards_describe_a_small_low_delay_codec():
    pair = CodecPair.open(MODEL_ARGS[1] if MODEL_ARGS else None)
    assert (pair.sample_rate, pair.hop, pair.stages, pair.codebook_size) == (RATE, 160, 4, 1024)
    assert (pair.latency + pair.hop) / RATE <= 0.015  # algorithmic delay: the overlap + the hop
    assert pair.stage_kbps * pair.stages == pytest.approx(6.0)
    dec = ENCODER.with_name(ENCODER.name.replace("-enc", "-dec"))
    assert ENCODER.stat().st_size + dec.stat().st_size <= 5e6  # both graphs (the encoder computes its STFT basis)
    for card in (pair.encoder.card, pair.decoder.card):
        for key in ("command", "data", "seed", "git_commit", "date", "train_minutes"):
            assert card.training.get(key) not in (None, ""), key


def test_tokens_are_bit_identical_at_every_block_and_in_the_file(tmp_path):
    src = _wav(tmp_path, _music())
    runs = {}
    for block in (1, 100, 4096):
        out = tmp_path / f"t{block}.jsonl"
        r = _rtmir("stream", str(src), "--task", "codec", "--block", str(block), "--jsonl", str(out), *MODEL_ARGS)
        assert r.returncode == 0, r.stderr
        runs[block] = np.array([json.loads(line)["tokens"] for line in out.read_text().splitlines()])
    assert np.array_equal(runs[1], runs[4096]) and np.array_equal(runs[100], runs[4096])
    rtq = tmp_path / "x.rtq"
    r = _rtmir("codec", "encode", str(src), str(rtq), "--kbps", "6", *MODEL_ARGS)
    assert r.returncode == 0, r.stderr
    from_file = _rtq_tokens(rtq)
    assert np.array_equal(from_file[:len(runs[1])], runs[1])


@pytest.mark.parametrize("rate", [24000, 44100])
def test_a_decoded_file_has_the_inputs_rate_and_length_and_lines_up(tmp_path, rate):
    n = int(1.5 * rate) + 17
    x = np.zeros(n, np.float32)
    clicks = [int(0.3 * rate), int(0.8 * rate), int(1.2 * rate)]
    for c in clicks:  # short noise bursts: their energy must come back where they were
        x[c:c + 48] = np.random.default_rng(c).standard_normal(48) * 0.5
    src = _wav(tmp_path, x, rate)
    rtq, out = tmp_path / "x.rtq", tmp_path / "y.wav"
    assert _rtmir("codec", "encode", str(src), str(rtq), *MODEL_ARGS).returncode == 0
    r = _rtmir("codec", "decode", str(rtq), str(out), *MODEL_ARGS)
    assert r.returncode == 0, r.stderr
    y, got_rate = sf.read(out, dtype="float32")
    assert got_rate == rate and y.shape == x.shape
    win = int(0.004 * rate)
    energy = np.convolve(y ** 2, np.ones(win), "same")
    for c in clicks:
        region = slice(c - int(0.05 * rate), c + int(0.05 * rate))
        peak = region.start + int(np.argmax(energy[region]))
        assert abs(peak - (c + 24)) <= 160 * rate / RATE, (c, peak)


def test_lower_bitrates_send_fewer_stages_and_smaller_files(tmp_path):
    src = _wav(tmp_path, _music(3.0))
    sizes = {}
    for kbps in ("1.5", "3", "6"):
        rtq = tmp_path / f"{kbps}.rtq"
        r = _rtmir("codec", "encode", str(src), str(rtq), "--kbps", kbps, *MODEL_ARGS)
        assert r.returncode == 0, r.stderr
        sizes[kbps] = rtq.stat().st_size
        assert _rtq_tokens(rtq).shape[1] == {"1.5": 1, "3": 2, "6": 4}[kbps]
        seconds = 3.0
        assert sizes[kbps] * 8 / seconds / 1000 <= float(kbps) + 0.4  # framing adds ~0.1 kbps
        assert _rtmir("codec", "decode", str(rtq), str(tmp_path / f"{kbps}.wav"), *MODEL_ARGS).returncode == 0
    assert sizes["1.5"] < sizes["3"] < sizes["6"]


def _processor(**params):
    from rtmir.core.processor import ProcessSpec
    from rtmir.tasks.codec import CodecProcessor

    p = CodecProcessor(CodecPair.open(MODEL_ARGS[1] if MODEL_ARGS else None))
    p.prepare(ProcessSpec(RATE, 1600, 1))
    for k, v in params.items():
        p.set_param(k, v)
    return p


def _run(p, x: np.ndarray) -> tuple[np.ndarray, list]:
    out = {"audio": np.zeros((1, 1600), np.float32), "tokens": np.zeros((4, 10), np.int64)}
    audio, events = [], []
    for t0 in range(0, len(x) - 1599, 1600):
        events += p.process(x[None, t0:t0 + 1600], t0, out)
        audio.append(out["audio"][0].copy())
    return np.concatenate(audio), events


def test_the_kbps_parameter_leaves_stages_out():
    audio, events = _run(_processor(kbps=3.0), _music(1.0))
    assert all(e.values["stages"] == 2 and e.values["tokens"][2:] == [1024, 1024] for e in events)
    assert np.isfinite(audio).all()


def test_packet_loss_is_concealed_counted_and_repeatable():
    x = _music(2.0)
    clean, _ = _run(_processor(), x)
    lossy, events = _run(_processor(loss=0.3), x)
    again, _ = _run(_processor(loss=0.3), x)
    lost = events[-1].values["lost"]
    assert 0.2 * len(events) < lost < 0.4 * len(events)
    assert np.array_equal(lossy, again)  # the simulated link is seeded
    assert np.isfinite(lossy).all() and np.abs(lossy).max() <= 2 * np.abs(clean).max() + 1e-3
    assert not np.array_equal(lossy, clean)


def test_encoder_to_decoder_graph_equals_the_codec_task(tmp_path):
    src = _wav(tmp_path, _music())
    model = "" if not MODEL_ARGS else f'\nmodel = "{ENCODER}"'
    graph = tmp_path / "g.toml"
    graph.write_text('edges = ["input -> enc", "enc.tokens -> dec.tokens"]\nroutes = ["dec.audio -> file"]\n'
                     f'[nodes.enc]\ntask = "codec_encode"{model}\n[nodes.dec]\ntask = "codec_decode"{model}\n')
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    r = _rtmir("stream", str(src), "--graph", str(graph), "--out-dir", str(a))
    assert r.returncode == 0, r.stderr
    r = _rtmir("stream", str(src), "--task", "codec", "--out-dir", str(b), *MODEL_ARGS)
    assert r.returncode == 0, r.stderr
    ya = sf.read(next(a.glob("*.wav")))[0]
    yb = sf.read(b / "audio.wav")[0]
    assert ya.shape == yb.shape
    np.testing.assert_allclose(ya, yb, atol=1e-5)


def test_bad_inputs_exit_2_with_one_line_and_write_nothing(tmp_path):
    src = _wav(tmp_path, _music(1.0))
    rtq = tmp_path / "ok.rtq"
    assert _rtmir("codec", "encode", str(src), str(rtq), *MODEL_ARGS).returncode == 0
    data = rtq.read_bytes()
    (tmp_path / "cut.rtq").write_bytes(data[:len(data) // 2])
    broken = bytearray(data)
    broken[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.rtq").write_bytes(bytes(broken))
    cases = [
        (["encode", str(src), str(tmp_path / "o.rtq"), "--kbps", "4"], "not a bitrate"),
        (["encode", str(tmp_path / "missing.wav"), str(tmp_path / "o.rtq")], "not found"),
        (["encode", str(src), str(src)], "input of this run"),
        (["decode", str(src), str(tmp_path / "o.wav")], "not an rtmir codec file"),
        (["decode", str(tmp_path / "cut.rtq"), str(tmp_path / "o.wav")], "truncated at byte"),
        (["decode", str(tmp_path / "bad.rtq"), str(tmp_path / "o.wav")], "fails its CRC"),
        (["decode", str(rtq), str(rtq)], "decode writes WAV"),
        (["encode", str(src), str(ENCODER.with_name(ENCODER.name.replace("-enc", "-dec")))], "input of this run"),
    ]
    for args, message in cases:
        r = _rtmir("codec", *args, *MODEL_ARGS)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert not (tmp_path / "o.rtq").exists() and not (tmp_path / "o.wav").exists(), args
        assert not list(tmp_path.glob("*.part")), args
    assert rtq.read_bytes() == data and sf.read(src)[0].shape == (RATE,)
    assert CodecPair.open(MODEL_ARGS[1] if MODEL_ARGS else None).stages == 4  # the models are intact
    r = _rtmir("codec", "decode", str(tmp_path / "bad.rtq"), str(tmp_path / "c.wav"), "--conceal", *MODEL_ARGS)
    assert r.returncode == 0 and "frames concealed" in r.stderr, r.stderr
    assert sf.read(tmp_path / "c.wav")[0].shape == (RATE,)


@pytest.mark.fluidsynth
@pytest.mark.slow
def test_mel_distance_ceiling_on_an_unseen_soundfont(tmp_path, record_property):
    from training.codec.metrics import mel_distance
    from training.synth.__main__ import main as synth_main

    out = tmp_path / "val"
    assert synth_main(["--kind", "band", "--split", "val", "--n", "1", "--seed", "4321", "--out", str(out),
                       "--workers", "1", "--no-augment"]) == 0
    mix = next(out.rglob("mix.flac"))
    x, rate = sf.read(mix, dtype="float32", always_2d=True)
    import soxr

    ref = soxr.resample(x.mean(axis=1), rate, RATE).astype(np.float32)
    src = _wav(tmp_path, ref, RATE, "ref.wav")
    rtq, dec = tmp_path / "m.rtq", tmp_path / "m.wav"
    assert _rtmir("codec", "encode", str(src), str(rtq), *MODEL_ARGS).returncode == 0
    assert _rtmir("codec", "decode", str(rtq), str(dec), *MODEL_ARGS).returncode == 0
    d = mel_distance(ref, sf.read(dec, dtype="float32")[0])
    record_property("mel_distance_6kbps", d)
    assert d <= MEL_CEILING
