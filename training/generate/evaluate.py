"""Evaluate an exported token LM: continuation NLL against a 4-gram model, musical consistency of
continuations, and speed on one core.

    python -m training.generate.evaluate --model rtmir/zoo/gen-lm.onnx [--json out.json]

* **NLL** (nats per code) of the MuseScore_General validation pieces' codes after their first
  ``--prompt-s`` seconds, given everything before: the LM (the ONNX graph the runtime runs, fed
  the true codes) and an interpolated Kneser–Ney 4-gram model (``ngram.py``) counted on the same
  training tokens the LM was trained on (the training config's pieces and takes).
* **Consistency**: for ``--prompts`` pieces, the LM continues the first ``--prompt-s`` seconds by
  ``--seconds`` (sampled with the runtime's ``TokenGenerator``; seed = ``--seed`` + piece), decoded
  by the shipped codec; key, tempo, families and loudness (``consistency.py``) of the
  continuation are compared with the piece's true continuation (the render) and with another
  piece's (piece ``i + prompts // 2``). Reported: the share of prompts closer to the true one, and
  the same share for the prompt's own audio standing in for a continuation (what "same piece"
  scores on these features).
* **Speed**: frames and codes per second and the real-time factor of LM + sampling + codec
  decode, one thread, on ``--speed-s`` seconds of free continuation.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rtmir.tasks.token_generator import delay_steps
from training.core.provenance import git_commit, machine, utc_now

from . import consistency as cs
from .config import load_config
from .ngram import KneserNey
from .tokens import train_tokens, val_tokens

DEFAULT_CONFIG = "training/generate/configs/generate.json"


def lm_log_probs(session, codes: np.ndarray, codebook_size: int, chunk: int = 256) -> np.ndarray:
    """``log p [F, Q]`` (nats) of each code of ``codes [F, Q]`` from the LM session fed the true codes
    in the delay pattern (``nan`` for ``c[0, 0]``, which no step predicts)."""
    f, q = codes.shape
    steps = delay_steps(codes, codebook_size, f + q - 1)
    t = steps.shape[1] - 1  # inputs 0..t-1 predict steps 1..t
    lp = np.full((q, t), np.nan)
    session.reset()
    out_name = next(o.name for o in session.card.outputs if o.unit == "logit")
    in_name = next(i.name for i in session.card.inputs if i.kind == "tokens")
    for a in range(0, t, chunk):
        b = min(t, a + chunk)
        logits = np.asarray(session.step({in_name: steps[:, a:b]})[out_name][0], np.float64)  # [Q, V, n]
        m = logits.max(1, keepdims=True)
        logz = (m + np.log(np.exp(logits - m).sum(1, keepdims=True)))[:, 0]  # [Q, n]
        target = steps[:, a + 1:b + 1]
        valid = target < codebook_size
        picked = np.take_along_axis(logits, np.where(valid, target, 0)[:, None, :], 1)[:, 0]
        lp[:, a:b] = np.where(valid, picked - logz, np.nan)
    out = np.full((f, q), np.nan)
    for k in range(q):  # step s predicts frame s - k of stage k; lp[:, s - 1]
        frames = np.arange(f)
        s = frames + k
        ok = s >= 1
        out[frames[ok], k] = lp[k, s[ok] - 1]
    return out


def nll_table(log_probs: list[np.ndarray], from_frame: int) -> dict[str, float]:
    """Mean NLL per code over frames ``>= from_frame`` of each piece: overall and per stage."""
    tail = np.concatenate([lp[from_frame:] for lp in log_probs])
    per = [-float(np.nanmean(tail[:, k])) for k in range(tail.shape[1])]
    return {"nll": -float(np.nanmean(tail)), **{f"nll_{k + 1}": v for k, v in enumerate(per)}}


def continue_piece(gen, pair, prompt: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``frames`` after ``prompt [P, Q]``; returns the codes ``[frames, Q]`` and their audio
    (decoded after the prompt, so the decoder's state is warm; ``frames * hop`` samples)."""
    gen.reset()
    gen.prime(prompt)
    out = []
    for _ in range(frames + gen.delay_frames):
        done = gen.advance(None)
        if done is not None and gen.step - 1 - gen.delay_frames >= len(prompt):
            out.append(done.copy())
    codes = np.array(out[:frames])
    pair.decoder.reset()
    audio = [pair.decode_hop(c).copy() for c in np.concatenate([prompt, codes])]
    audio = np.concatenate(audio)[len(prompt) * pair.hop + pair.latency:]
    return codes, np.pad(audio, (0, frames * pair.hop - len(audio)))


def write_examples(gen, pair, codes: list[np.ndarray], folder, p_frames: int, args, out: Path) -> list[dict]:
    """The first 3 pieces long enough: the prompt (the render itself) then the LM's continuation of
    its tokens, as ``example{1,2,3}.opus``; returns what each holds."""
    import subprocess
    import tempfile

    import soundfile as sf

    out.mkdir(parents=True, exist_ok=True)
    n_gen = int(args.example_s * pair.sample_rate / pair.hop)
    rows = []
    for i in [i for i, c in enumerate(codes) if len(c) >= p_frames][:3]:
        gen.seed = args.seed + i
        _, audio = continue_piece(gen, pair, codes[i][:p_frames], n_gen)
        prompt = folder.audio(i, pair.sample_rate, channels=1)[0][:p_frames * pair.hop]
        take = np.concatenate([prompt, audio]).astype(np.float32)
        take *= min(1.0, 0.9 / max(1e-9, float(np.abs(take).max())))
        path = out / f"example{len(rows) + 1}.opus"
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "x.wav"
            sf.write(wav, take, pair.sample_rate, subtype="PCM_16")
            subprocess.run(["opusenc", "--quiet", "--bitrate", "32", str(wav), str(path)], check=True)
        rows.append({"file": path.name, "piece": folder.names[i], "stems": folder.meta(i).get("stems"),
                     "prompt_s": p_frames * pair.hop / pair.sample_rate, "continuation_s": args.example_s,
                     "seed": gen.seed, "bytes": path.stat().st_size})
    return rows


def tagger_means(model: str):
    """``(audio, rate) -> [families]``: the shipped tagger's mean probabilities over a clip."""
    import soxr

    from training.tags.data import SAMPLE_RATE
    from training.tags.evaluate import candidate

    run = candidate(model)

    def means(x: np.ndarray, rate: int) -> np.ndarray:
        y = soxr.resample(x.astype(np.float32), rate, SAMPLE_RATE).astype(np.float32)
        _, probs = run(y)
        return probs.mean(1) if probs.size else np.zeros(13)

    return means


def speed(gen, pair, prompt: np.ndarray, seconds: float) -> dict[str, float]:
    """Wall and CPU time of ``seconds`` of continuation: LM + sampling + decode, one thread."""
    frames = int(seconds * pair.sample_rate / pair.hop)
    gen.reset()
    gen.prime(prompt)
    pair.decoder.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    lm = 0.0
    for _ in range(frames):
        a = time.perf_counter()
        done = gen.advance(None)
        lm += time.perf_counter() - a
        pair.decode_hop(done)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "frames_per_s": frames / wall, "codes_per_s": frames * pair.stages / wall,
            "rtf": wall / seconds, "rtf_cpu": cpu / seconds, "lm_and_sampling_rtf": lm / seconds,
            "x_real_time": seconds / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.generate.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the exported token LM (.onnx)")
    ap.add_argument("--config", default=DEFAULT_CONFIG, help="the training config (its data and takes)")
    ap.add_argument("--pieces", type=int, default=150, help="validation pieces for the NLL")
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--prompt-s", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=5.0, help="continuation length")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=250)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speed-s", type=float, default=20.0)
    ap.add_argument("--tagger", default="rtmir/zoo/tags-tcn.onnx")
    ap.add_argument("--skip", nargs="*", default=[], choices=["nll", "consistency", "speed"])
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--examples", metavar="DIR",
                    help="also write the first 3 usable prompts' continuations there as Opus (prompt then "
                         "continuation, mono 24 kHz, 32 kbps; opusenc from opus-tools)")
    ap.add_argument("--example-s", type=float, default=10.0, help="continuation length of the examples")
    args = ap.parse_args(argv)
    try:
        from rtmir.codec.files import CodecPair
        from rtmir.session import StreamingSession
        from rtmir.tasks.token_generator import TokenGenerator
        from training.synth.folder import SynthFolder

        config = load_config(args.config)
        pair = CodecPair.open(config.codec)
        session = StreamingSession(args.model)
        gen = TokenGenerator(session, pair.stages, pair.codebook_size)
        gen.temperature, gen.top_k, gen.top_p = args.temperature, args.top_k, args.top_p
        val = val_tokens(pair, config.val_dir, config.token_cache, args.pieces)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    p_frames = int(args.prompt_s * pair.sample_rate / pair.hop)
    results: dict = {"model": args.model, "card": {"name": session.card.name, "version": session.card.version},
                     "codec": {"name": pair.name, "version": pair.version}, "git": git_commit(), "machine": machine(),
                     "utc": utc_now(), "settings": {k: v for k, v in vars(args).items() if k != "json"}}
    codes = [val.piece(i) for i in range(len(val.names))]
    if "nll" not in args.skip:
        train = train_tokens(pair, config.train_dir, config.token_cache, config.train_clips, config.seed)
        t0 = time.perf_counter()
        ngram = KneserNey(4, pair.stages, pair.codebook_size).fit([train.piece(i) for i in range(len(train.names))])
        fit_s = time.perf_counter() - t0
        results["nll"] = {
            "pieces": len(codes), "from_s": args.prompt_s, "uniform": float(np.log(pair.codebook_size)),
            "lm": nll_table([lm_log_probs(session, c, pair.codebook_size) for c in codes], p_frames),
            "kn4": nll_table(ngram.log_prob(codes), p_frames), "kn4_fit_s": fit_s,
            "kn4_train_codes": int(sum(len(train.piece(i)) for i in range(len(train.names))) * pair.stages)}
        results["nll"]["ratio"] = results["nll"]["lm"]["nll"] / results["nll"]["kn4"]["nll"]
        print(json.dumps(results["nll"], indent=1), flush=True)
    if "consistency" not in args.skip:
        folder = SynthFolder(config.val_dir, args.pieces)
        tag = tagger_means(args.tagger)
        n_gen = int(args.seconds * pair.sample_rate / pair.hop)
        usable = [i for i, c in enumerate(codes) if len(c) >= p_frames + n_gen][:args.prompts]
        feats, prompt_feats, gen_feats = {}, {}, {}
        for i in usable:
            audio = folder.audio(i, pair.sample_rate, channels=1)[0]
            a, b = p_frames * pair.hop, (p_frames + n_gen) * pair.hop
            feats[i] = cs.features(audio[a:b], pair.sample_rate, tag)
            prompt_feats[i] = cs.features(audio[max(0, a - (b - a)):a], pair.sample_rate, tag)
            gen.seed = args.seed + i
            _, g = continue_piece(gen, pair, codes[i][:p_frames], n_gen)
            gen_feats[i] = cs.features(g, pair.sample_rate, tag)
        rows = {"lm": [], "prompt": []}
        for j, i in enumerate(usable):
            other = usable[(j + len(usable) // 2) % len(usable)]
            rows["lm"].append(cs.closer(gen_feats[i], feats[i], feats[other]))
            rows["prompt"].append(cs.closer(prompt_feats[i], feats[i], feats[other]))
        results["consistency"] = {
            "prompts": len(usable), "prompt_s": args.prompt_s, "seconds": args.seconds,
            **{name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for name, rs in rows.items()},
            "loudness_db": {"generated": float(np.mean([gen_feats[i].loudness_db for i in usable])),
                            "true": float(np.mean([feats[i].loudness_db for i in usable]))}}
        print(json.dumps(results["consistency"], indent=1), flush=True)
    if "speed" not in args.skip:
        gen.seed = args.seed
        results["speed"] = speed(gen, pair, codes[0][:p_frames], args.speed_s)
        print(json.dumps(results["speed"], indent=1), flush=True)
    if args.examples:
        results["examples"] = write_examples(gen, pair, codes, SynthFolder(config.val_dir, args.pieces), p_frames,
                                             args, Path(args.examples))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
