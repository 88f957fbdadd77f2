"""``python -m training.codec.evaluate --candidate rtmir/zoo/codec-enc.onnx``: our codec at 1.5 / 3 /
6 kbps and Opus at the issue's settings, side by side on the same MuseScore_General clips.

The set: the separation evaluation's ``--kind multi`` pieces (MuseScore_General, a seed of their
own, never trained or validated on), mono at 24 kHz: each piece's mix (the sum of its stems) and
each of its audible stems alone (drums, bass, other, melody). Every method gets a clip as a 24 kHz
float WAV and returns a WAV of the same length, aligned:

- ``codec-<kbps>``: ``rtmir codec encode --kbps K`` then ``rtmir codec decode`` (the user's path,
  through ``rtmir.codec.files``; the ``.rtq`` file's size gives the kbps with framing);
- ``opus-<kbps>-<ms>[-cbr]``: ``opusenc --bitrate K --framesize MS [--hard-cbr]`` then ``opusdec
  --rate 24000 --float`` (opus-tools; the ``.opus`` size, Ogg pages included, gives its kbps).

Figures: the issue's mel distance (``metrics.mel_distance``; lower is better), SI-SDR, ViSQOL v3
audio mode (``visqol-python``, 48 kHz; with ``--visqol N``, on the mixes of the first N pieces), per clip then averaged over
the mixes and, separately, over the stems. CPU: encoder and decoder CPU seconds per second of audio,
one hop per call and one thread, as the runtime runs them. Writes ``OUT/codec_eval.json`` and
``OUT/codec_eval.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from training.core.provenance import git_commit, machine, utc_now

from .metrics import SAMPLE_RATE, mel_distance, si_sdr

RATE = SAMPLE_RATE
OPUS = [(6, 20, False), (12, 20, False), (12, 20, True), (12, 10, False), (24, 20, False)]
"""The issue's Opus rows: (kbps, frame ms, hard CBR)."""
OPUS_DELAY_MS = {20: 26.5, 10: 16.5}


def clips_of(folder: Path, n: int) -> list[tuple[str, str, np.ndarray]]:
    """``(piece, "mix" | stem, audio [n] at 24 kHz)`` for the first ``n`` pieces: the mix and each audible stem."""
    from training.separate.data import STEMS, load_stems
    from training.separate.metrics import active

    stems = load_stems(folder, RATE, None, n)
    out = []
    for i, name in enumerate(stems.names):
        s = stems.clip(i)
        mix = s.sum(axis=0)
        out.append((name, "mix", mix))
        out += [(name, stem, s[j]) for j, stem in enumerate(STEMS) if active(s[j], mix)]
    return out


def codec_method(candidate: str, kbps: float):
    """Our codec at ``kbps`` through ``rtmir.codec.files`` (what ``rtmir codec encode/decode`` run)."""
    from rtmir.codec.files import CodecPair, decode_file, encode_file

    pair = CodecPair.open(candidate)

    def run(wav: Path, tmp: Path) -> tuple[Path, int]:
        rtq, out = tmp / "x.rtq", tmp / "codec.wav"
        encode_file(wav, rtq, pair, kbps)
        decode_file(rtq, out, pair)
        return out, rtq.stat().st_size

    return run


def opus_method(kbps: int, frame_ms: int, cbr: bool):
    def run(wav: Path, tmp: Path) -> tuple[Path, int]:
        enc, out = tmp / "x.opus", tmp / "opus.wav"
        subprocess.run(["opusenc", "--quiet", "--bitrate", str(kbps), "--framesize", str(frame_ms),
                        *(["--hard-cbr"] if cbr else []), str(wav), str(enc)], check=True, capture_output=True)
        subprocess.run(["opusdec", "--quiet", "--rate", str(RATE), "--float", str(enc), str(out)], check=True,
                       capture_output=True)
        return out, enc.stat().st_size

    return run


def methods(args) -> dict:
    out = {}
    if args.candidate:
        for kbps in (1.5, 3.0, 6.0):
            out[f"codec-{kbps:g}"] = codec_method(args.candidate, kbps)
    for kbps, ms, cbr in OPUS:
        out[f"opus-{kbps}-{ms}ms" + ("-cbr" if cbr else "")] = opus_method(kbps, ms, cbr)
    return out


def _visqol():
    from visqol.api import VisqolApi

    api = VisqolApi()
    api.create(mode="audio")
    return api


def visqol_moslqo(api, ref: np.ndarray, est: np.ndarray) -> float:
    """ViSQOL v3 audio-mode MOS-LQO of ``est`` against ``ref`` (both 24 kHz; resampled to 48 kHz)."""
    import soxr

    r = soxr.resample(ref.astype(np.float64), RATE, 48000)
    e = soxr.resample(est.astype(np.float64), RATE, 48000)
    return float(api.measure_from_arrays(r, e, 48000).moslqo)


def evaluate(clips: list, wanted: dict, visqol_pieces: int = 0) -> dict:
    import soundfile as sf

    api = _visqol() if visqol_pieces else None
    scored = sorted({piece for piece, _, _ in clips})[:visqol_pieces]
    per: dict[str, list[dict]] = {m: [] for m in wanted}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        for piece, what, x in clips:
            wav = tmp / "in.wav"
            sf.write(wav, x, RATE, subtype="FLOAT")
            seconds = len(x) / RATE
            for name, run in wanted.items():
                t = time.perf_counter()
                path, size = run(wav, tmp)
                wall = time.perf_counter() - t
                y = sf.read(path, dtype="float32")[0]
                if len(y) != len(x):
                    raise RuntimeError(f"{name} returned {len(y)} samples for {len(x)}")
                row = {"piece": piece, "clip": what, "mel": mel_distance(x, y), "si_sdr": si_sdr(x, y),
                       "kbps_file": size * 8 / seconds / 1000, "wall_s_per_audio_s": wall / seconds}
                if api is not None and what == "mix" and piece in scored:
                    row["visqol"] = visqol_moslqo(api, x, y)
                per[name].append(row)
    result = {}
    for name, rows in per.items():
        r = {}
        for group, sel in (("mix", [x for x in rows if x["clip"] == "mix"]), ("stems", [x for x in rows if x["clip"] != "mix"])):
            for key in ("mel", "si_sdr", "kbps_file", "visqol"):
                vals = [x[key] for x in sel if key in x]
                if vals:
                    r[f"{group}_{key}"] = float(np.mean(vals))
            r[f"{group}_n"] = len(sel)
        r["wall_s_per_audio_s"] = float(np.mean([x["wall_s_per_audio_s"] for x in rows]))
        result[name] = r
    result["_per_clip"] = per
    return result


def cpu(candidate: str, audio: np.ndarray) -> dict:
    """Encoder and decoder CPU seconds per second of ``audio`` (24 kHz), one hop per call, one thread."""
    from rtmir.codec.files import CodecPair

    pair = CodecPair.open(candidate)
    pair.encoder.prepare(1)
    pair.decoder.prepare(1)
    hop = pair.hop
    n = len(audio) // hop
    tokens = np.zeros((n, pair.stages), np.int64)
    best = {"encode": np.inf, "decode": np.inf}
    for _ in range(3):
        pair.reset()
        t = time.process_time()
        for j in range(n):
            tokens[j] = pair.encode_hop(audio[j * hop:(j + 1) * hop])
        best["encode"] = min(best["encode"], time.process_time() - t)
        t = time.process_time()
        for j in range(n):
            pair.decode_hop(tokens[j])
        best["decode"] = min(best["decode"], time.process_time() - t)
    seconds = n * hop / RATE
    return {"encode": best["encode"] / seconds, "decode": best["decode"] / seconds,
            "total": (best["encode"] + best["decode"]) / seconds}


def table(result: dict) -> str:
    vis = any("mix_visqol" in r for k, r in result.items() if not k.startswith("_"))
    head = "| method | delay ms | kbps (file) | mel, mixes | mel, stems | SI-SDR mixes dB |" + (" ViSQOL mixes |" if vis else "")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in result.items():
        if name.startswith("_"):
            continue
        delay = "13.3" if name.startswith("codec") else f"{OPUS_DELAY_MS[int(name.split('-')[2][:-2])]:g}"
        line = (f"| {name} | {delay} | {r['mix_kbps_file']:.2f} | **{r['mix_mel']:.3f}** | {r.get('stems_mel', float('nan')):.3f} "
                f"| {r['mix_si_sdr']:.2f} |")
        if vis:
            line += f" {r.get('mix_visqol', float('nan')):.2f} |"
        rows.append(line)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.codec.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", help="our codec's encoder (NAME-enc.onnx, NAME-dec.onnx beside it); without it only Opus runs")
    ap.add_argument("--n", type=int, default=15, help="pieces (default 15)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1501, help="set seed (default 1501: the separation evaluation's pieces)")
    ap.add_argument("--data-root", default="data", help="where the evaluation set is rendered")
    ap.add_argument("--visqol", type=int, default=0, metavar="N",
                    help="also score ViSQOL v3 audio mode on the mixes of the first N pieces (about 6 s a score)")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    ap.add_argument("--out", default="runs/codec/eval")
    args = ap.parse_args(argv)
    if args.candidate and not Path(args.candidate).is_file():
        print(f"error: --candidate {args.candidate}: no such file", file=sys.stderr)
        return 2
    from training.separate.evaluate import render_set

    folder = render_set(Path(args.data_root), args.n, args.seconds, args.seed)
    clips = clips_of(folder, args.n)
    result = evaluate(clips, methods(args), args.visqol)
    if args.candidate and not args.no_cpu:
        result["_cpu_s_per_audio_s"] = cpu(args.candidate, np.concatenate([c[2] for c in clips if c[1] == "mix"]))
    result["_meta"] = {"set": str(folder), "n": args.n, "seconds": args.seconds, "seed": args.seed, "rate": RATE,
                       "visqol_pieces": args.visqol,
                       "candidate": args.candidate, "commit": git_commit(), "date": utc_now(), "machine": machine()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "codec_eval.json").write_text(json.dumps(result, indent=1))
    md = table(result)
    if "_cpu_s_per_audio_s" in result:
        c = result["_cpu_s_per_audio_s"]
        md += f"\n\nCPU s per s of audio (one thread, one hop per call): encode {c['encode']:.4f}, decode {c['decode']:.4f}, total {c['total']:.4f}"
    (out / "codec_eval.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
