"""``python -m training.separate.evaluate --candidate MODEL.onnx``: our separator, the oracles and the
baselines, side by side on MuseScore_General pieces.

The set: ``--kind multi`` pieces (every part from the first bar to the last, like the issue's
reference set) rendered with MuseScore_General at a seed of its own, stems grouped as in training
(``data.GROUPS``), mono at 22.05 kHz; the mix is their sum. Every method gets the mix and returns
four stems aligned with it; each is scored by SI-SDR improvement over the mix (``metrics``) per
stem, and by SDR (BSS-eval with a 512-tap distortion filter, ``fast_bss_eval``) where installed.

Methods: ``cand`` (the ONNX through ``rtmir stream --task separate --out-dir``: the runtime's own
path, block 1024), ``oracle-wiener`` / ``oracle-irm`` at the candidate's STFT and at 256/64
(``oracle``: the ceiling of a mask model at that latency), ``hpss`` (librosa's median-filter HPSS,
non-causal: the percussive part as drums, the harmonic part as each other stem), ``mix`` (the mix
as every estimate: 0 dB by definition; its SI-SDR is the starting point). CPU: ``rtmir stream``
CPU seconds per second of audio at blocks 1024 and 256 (``training.core.measure``). Writes
``OUT/separate_eval.json`` and ``OUT/separate_eval.md``.
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

from .data import STEMS, load_stems
from .metrics import improvements, si_sdr, summarise
from .oracle import oracle_stems

RATE = 22050


def render_set(root: Path, n: int, seconds: float, seed: int) -> Path:
    """Render (or complete) the evaluation set: ``n`` multi pieces, MuseScore_General."""
    from training.synth.__main__ import main as synth_main

    out = root / f"separate-eval-multi-s{seed}-{seconds:g}s"
    rc = synth_main(["--kind", "multi", "--split", "val", "--n", str(n), "--duration", str(seconds), "--seed", str(seed),
                     "--no-augment", "--workers", "2", "--out", str(out)])
    if rc != 0:
        raise SystemExit(rc)
    return out


def candidate(path: str, block: int = 1024):
    """Our separator as a user runs it on a file: ``rtmir stream --task separate --out-dir``."""
    import soundfile as sf

    def run(mix: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "mix.wav"
            sf.write(wav, mix, RATE, subtype="FLOAT")
            out = Path(tmp) / "stems"
            out.mkdir()
            subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", "separate", "--model", path,
                            "--block", str(block), "--out-dir", str(out)], check=True, capture_output=True)
            return np.stack([sf.read(out / f"{s}.wav", dtype="float32")[0] for s in STEMS])

    return run


def hpss(mix: np.ndarray) -> np.ndarray:
    """librosa HPSS (n_fft 2048, hop 512, kernel 31 frames: 0.36 s each side at 22.05 kHz)."""
    import librosa

    harmonic, percussive = librosa.effects.hpss(mix.astype(np.float32))
    return np.stack([percussive, harmonic, harmonic, harmonic])


def methods(args) -> dict:
    out = {}
    if args.candidate:
        out["cand"] = candidate(args.candidate)
    n_fft, hop = _candidate_stft(args.candidate)
    for kind in ("wiener", "irm"):
        out[f"oracle-{kind} {n_fft}/{hop}"] = lambda mix, stems, k=kind: oracle_stems(stems, n_fft, hop, k)
    if (n_fft, hop) != (256, 64):
        out["oracle-wiener 256/64"] = lambda mix, stems: oracle_stems(stems, 256, 64, "wiener")
    out["hpss"] = hpss
    out["mix"] = lambda mix: np.repeat(mix[None], len(STEMS), axis=0)
    return out


def _candidate_stft(path: str | None) -> tuple[int, int]:
    """The candidate's window and hop (from its card's config), else 256/128."""
    if not path:
        return 256, 128
    import onnx

    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    config = json.loads(meta.get("rtmir.config", "{}"))
    return int(config.get("n_fft", 256)), int(config.get("hop_size", 128))


def bss_sdr(estimates: np.ndarray, references: np.ndarray) -> list[float] | None:
    """BSS-eval SDR per stem (``fast_bss_eval.sdr``, 512 taps), or None if it is not installed."""
    try:
        import fast_bss_eval
    except ImportError:
        return None
    return [float(v) for v in fast_bss_eval.sdr(references.astype(np.float64), estimates.astype(np.float64),
                                                 filter_length=512, use_cg_iter=None, zero_mean=True)]


def evaluate(folder: Path, wanted: dict, n: int) -> dict:
    clips = load_stems(folder, RATE, None, n)
    per = {name: [] for name in wanted}
    sdr = {name: [] for name in wanted}
    secs = {name: 0.0 for name in wanted}
    for i in range(len(clips.stems)):
        stems = clips.clip(i)
        mix = stems.sum(axis=0)
        for name, fn in wanted.items():
            t = time.perf_counter()
            est = fn(mix, stems) if name.startswith("oracle") else fn(mix)
            secs[name] += time.perf_counter() - t
            est = est[:, :len(mix)]
            per[name].append(improvements(est, stems, mix, STEMS))
            if all(v is not None for v in per[name][-1].values()):
                s = bss_sdr(est, stems)
                if s is not None:
                    sdr[name].append(s)
        mix_sisdr = {s: si_sdr(mix, stems[k]) for k, s in enumerate(STEMS)}
        per.setdefault("_mix_sisdr", []).append(mix_sisdr)
    audio_s = clips.stems.shape[0] * clips.stems.shape[-1] / RATE
    result = {}
    for name in wanted:
        result[name] = summarise(per[name], STEMS)
        if sdr[name]:
            arr = np.array(sdr[name])
            result[name]["sdr"] = {s: float(np.median(arr[:, k])) for k, s in enumerate(STEMS)}
            result[name]["sdr"]["mean"] = float(np.mean(list(result[name]["sdr"].values())))
        result[name]["wall_s_per_audio_s"] = secs[name] / audio_s
    result["_mix_sisdr"] = {s: float(np.mean([c[s] for c in per["_mix_sisdr"]])) for s in STEMS}
    return result


def cpu(candidate_path: str, folder: Path) -> dict:
    """``rtmir stream`` CPU s/s of the candidate at blocks 1024 and 256, on 60 s of the set's mixes."""
    import soundfile as sf

    from training.core.measure import stream_cpu

    clips = load_stems(folder, RATE, None, 6)
    long_mix = clips.stems.astype(np.float32).sum(axis=1).reshape(-1)
    with tempfile.TemporaryDirectory() as tmp:
        long_f, short_f = Path(tmp) / "long.wav", Path(tmp) / "short.wav"
        sf.write(long_f, long_mix, RATE)
        sf.write(short_f, long_mix[:RATE], RATE)
        return {f"block{b}": stream_cpu(candidate_path, str(long_f), str(short_f), "separate", block=b)["cpu_s_per_audio_s"]
                for b in (1024, 256)}


def table(result: dict) -> str:
    rows = ["| method | drums | bass | other | melody | mean SI-SDRi | SDR (median, mean over stems) | wall s/s |",
            "|---|---|---|---|---|---|---|---|"]
    for name, r in result.items():
        if name.startswith("_") or not isinstance(r, dict) or "mean" not in r:
            continue
        sdr = f"{r['sdr']['mean']:.2f}" if "sdr" in r else "-"
        rows.append(f"| {name} | " + " | ".join(f"{r[s]:.2f}" for s in STEMS) +
                    f" | **{r['mean']:.2f}** | {sdr} | {r['wall_s_per_audio_s']:.4f} |")
    mix = result.get("_mix_sisdr", {})
    rows.append("")
    rows.append("SI-SDR of the mix itself (dB): " + ", ".join(f"{s} {v:.2f}" for s, v in mix.items()))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.separate.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", help="our separator (.onnx); without it only the oracles and baselines run")
    ap.add_argument("--n", type=int, default=15, help="pieces (default 15)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1501, help="set seed (default 1501)")
    ap.add_argument("--data-root", default="data", help="where the evaluation set is rendered")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU measurement")
    ap.add_argument("--out", default="runs/separate/eval")
    args = ap.parse_args(argv)
    if args.candidate and not Path(args.candidate).is_file():
        print(f"error: --candidate {args.candidate}: no such file", file=sys.stderr)
        return 2
    folder = render_set(Path(args.data_root), args.n, args.seconds, args.seed)
    result = evaluate(folder, methods(args), args.n)
    if args.candidate and not args.no_cpu:
        result["_cpu_s_per_audio_s"] = cpu(args.candidate, folder)
    result["_meta"] = {"set": str(folder), "n": args.n, "seconds": args.seconds, "seed": args.seed, "rate": RATE,
                       "candidate": args.candidate, "commit": git_commit(), "date": utc_now(), "machine": machine()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "separate_eval.json").write_text(json.dumps(result, indent=1))
    md = table(result)
    if "_cpu_s_per_audio_s" in result:
        md += "\n\nCPU s per s of audio (rtmir stream): " + ", ".join(
            f"{k} {v:.4f}" for k, v in result["_cpu_s_per_audio_s"].items())
    (out / "separate_eval.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
