"""Per-hop cost of each model family at task sizes: onnxruntime (1 thread) vs torch eager (1 thread).

``python -m export.bench [--calls 500] [--families mel_tcn,lstm,...]`` exports every family
(untrained, verified as usual) to a temporary folder, then times one hop per call with the
state carried: ``StreamingSession.process`` (what the runtime pays: IOBinding, state sets swapped)
and the same call in torch eager under ``torch.no_grad()``. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models import CodecModel, FrameModel, FrameModelConfig, RVQCoder, RVQCoderConfig, StreamingModel
from models.codec import CodecConfig
from models.frontend import CQTConfig, LogMelConfig
from models.rvq import RVQConfig
from models.transformer import TransformerConfig
from rtmir.session import StreamingSession

from .api import CardFields, export_model
from .verify import VerifyOptions

MEL = LogMelConfig(sample_rate=16000, n_fft=512, hop_size=160, n_mels=64)


@dataclass(frozen=True)
class BenchFamily:
    describe: str  # one line for the table
    build: Callable[[], StreamingModel]
    verify_hops: int  # verification signal length (covers the transformer's whole cache)


FAMILIES: dict[str, BenchFamily] = {
    "mel_rfft": BenchFamily(
        "log-mel 512/160/64, unfold+rfft (dynamo) + 1x1 convs only", lambda: FrameModel(FrameModelConfig(
            mel=MEL, width=64, dilations=(), n_outputs=64)), 48),
    "mel_conv": BenchFamily(
        "log-mel 512/160/64, strided conv DFT + 1x1 convs only", lambda: FrameModel(FrameModelConfig(
            mel=LogMelConfig(n_fft=512, hop_size=160, n_mels=64, method="conv"), width=64, dilations=(),
            n_outputs=64)), 48),
    "mel_tcn": BenchFamily(
        "log-mel 512/160/64 + TCN 64ch k3 d1..32 + 360 out", lambda: FrameModel(FrameModelConfig(
            mel=MEL, width=64, dilations=(1, 2, 4, 8, 16, 32), n_outputs=360)), 64),
    "hcqt_tcn": BenchFamily(
        "HCQT h(1,2,3) 60 bins from 55 Hz (hop 160) + TCN 64ch k3 d1..32 + 360 out",
        lambda: FrameModel(FrameModelConfig(frontend="cqt", cqt=CQTConfig(
            hop_size=160, f_min=55.0, n_bins=60, harmonics=(1.0, 2.0, 3.0)), width=64,
            dilations=(1, 2, 4, 8, 16, 32), n_outputs=360)), 32),
    "lstm": BenchFamily(
        "log-mel (conv DFT) 512/160/64 + LSTM 2x128 + 16 out", lambda: FrameModel(FrameModelConfig(
            mel=LogMelConfig(n_fft=512, hop_size=160, n_mels=64, method="conv"), body="lstm",
            width=128, num_layers=2, n_outputs=16)), 64),
    "transformer": BenchFamily(
        "log-mel 512/160/64 + Transformer 4L d128 4 heads, 256-frame KV cache + 16 out",
        lambda: FrameModel(FrameModelConfig(mel=MEL, body="transformer", n_outputs=16, transformer=TransformerConfig(
            d_model=128, n_heads=4, n_layers=4, cache_frames=256))), 300),
    "rvq": BenchFamily(
        "conv framing (hop 160) -> RVQ 8x1024, dim 128, encode + decode",
        lambda: RVQCoder(RVQCoderConfig(hop=160, rvq=RVQConfig(dim=128, n_quantizers=8, codebook_size=1024))), 48),
    "codec": BenchFamily(
        "codec: causal conv enc (strides 4,5,8; width 32) -> RVQ 8x1024 dim 64 -> dec",
        lambda: CodecModel(CodecConfig(width=32, strides=(4, 5, 8), rvq=RVQConfig(dim=64, n_quantizers=8, codebook_size=1024))), 48),
}


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    us = np.asarray(seconds) * 1e6
    return float(np.percentile(us, 50)), float(np.percentile(us, 99))


def time_ort(path: Path, calls: int, warmup: int) -> tuple[float, float]:
    session = StreamingSession(path, intra_op_threads=1)
    session.prepare(1)
    hop_audio = np.random.default_rng(0).standard_normal((session.channels, session.hop)).astype(np.float32) * 0.1
    times = []
    for i in range(warmup + calls):
        t = time.perf_counter()
        session.process(hop_audio)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return _percentiles(times)


def time_torch(model: StreamingModel, calls: int, warmup: int) -> tuple[float, float]:
    audio = torch.randn(1, model.channels, model.hop) * 0.1
    state = model.initial_state(1)
    times = []
    with torch.no_grad():
        for i in range(warmup + calls):
            t = time.perf_counter()
            *_, state = model(audio, state)
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return _percentiles(times)


def run(names: list[str], calls: int, warmup: int, out_dir: Path) -> list[str]:
    rows = ["| family | model | hop (samples @ Hz) | params + buffers | ORT p50 µs | ORT p99 µs | torch p50 µs | torch p99 µs | torch/ORT p50 |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        fam = FAMILIES[name]
        torch.manual_seed(0)
        model = fam.build().eval()
        path = out_dir / f"{name}.onnx"
        export_model(model, CardFields(name=name, task="test"), path, options=VerifyOptions(n_hops=fam.verify_hops))
        ort_p50, ort_p99 = time_ort(path, calls, warmup)
        th_p50, th_p99 = time_torch(model, calls, warmup)
        params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
        rows.append(f"| {name} | {fam.describe} | {model.hop} @ {model.sample_rate} | {params / 1e3:.0f}k | "
                    f"{ort_p50:.0f} | {ort_p99:.0f} | {th_p50:.0f} | {th_p99:.0f} | {th_p50 / ort_p50:.1f}x |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.bench", description=__doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated subset of {list(FAMILIES)}")
    p.add_argument("--calls", type=int, default=500, help="timed calls per family and engine")
    p.add_argument("--warmup", type=int, default=50, help="untimed calls first")
    args = p.parse_args(argv)
    names = [n for n in args.families.split(",") if n]
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        p.error(f"unknown families {unknown}; known: {list(FAMILIES)}")
    torch.set_num_threads(1)
    import onnxruntime

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {platform.processor() or platform.machine()}, "
          f"1 thread each, one hop per call, {args.calls} calls after {args.warmup} warm-up\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(names, args.calls, args.warmup, Path(tmp))
    print("\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
