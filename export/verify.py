"""Verification of an exported model before it is written (DESIGN.md, contract 2).

For two test inputs, "noise" and "music" (per data input: noise or a synthesized musical signal
— harmonic notes with envelopes — for audio; uniform random tokens or runs of repeated tokens
for tokens; a fixed random vector for control values, held over every chunk):

1. ``onnx.checker`` (full check) and the contract-2 input/output names;
2. causality in torch: changing every timed input after hop k leaves every output frame
   before k unchanged;
3. torch streaming (several block sizes, one of them one hop) equals torch offline;
4. onnxruntime, one call over the whole signal, equals torch offline;
5. onnxruntime streaming (same block sizes, state carried) equals torch offline.

Every timed input is chunked at the same hops (audio ``hops * hop`` samples, tokens
``hops * per_hop`` frames). Float outputs must agree to ``tolerance`` (max abs diff), integer
outputs (codes, tokens) exactly. The first failure raises ``ExportError`` with a one-line reason.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import onnx
import onnxruntime as ort
import torch

from models.streaming import StreamingModel

from .onnx_graph import ExportError, io_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyOptions:
    n_hops: int = 48  # length of each test signal, in hops
    block_hops: tuple[int, ...] = (1, 3, 17)  # streaming block sizes, in hops (one must be 1)
    tolerance: float = 1e-4  # max abs diff allowed between float outputs
    seed: int = 0  # seed of the test signals


def test_signals(sample_rate: int, channels: int, n_samples: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``{"noise", "music"}`` signals ``[1, channels, n_samples]`` float32, peak < 1.

    ``music``: four consecutive notes (A3, C#4, E4, A4), 6 harmonics each with 1/h amplitudes,
    a 5 ms attack and an exponential decay.
    """
    rng = np.random.default_rng(seed)
    noise = 0.3 * rng.standard_normal((1, channels, n_samples))
    t = np.arange(n_samples) / sample_rate
    music = np.zeros(n_samples)
    note_len = max(1, n_samples // 4)
    for i, f0 in enumerate((220.0, 277.18, 329.63, 440.0)):
        start = i * note_len
        tt = t[start:start + note_len] - t[start]
        env = np.minimum(tt / 0.005, 1.0) * np.exp(-3.0 * tt)
        tone = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 7) if f0 * h < sample_rate / 2)
        music[start:start + note_len] = 0.3 * env * tone
    music = np.broadcast_to(music, (1, channels, n_samples))
    return {"noise": noise.astype(np.float32), "music": np.ascontiguousarray(music, dtype=np.float32)}


Inputs = Sequence[np.ndarray]
"""One array per data input of a model, in ``data_inputs`` order, batch axis included."""


def as_inputs(model: StreamingModel, inputs: np.ndarray | Inputs) -> list[np.ndarray]:
    """``inputs`` as a list in ``data_inputs`` order (a bare array is the one audio input)."""
    arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if len(arrays) != len(model.data_inputs):
        raise ValueError(f"{type(model).__name__} takes {len(model.data_inputs)} data inputs, got {len(arrays)}")
    return arrays


def n_hops_of(model: StreamingModel, inputs: Inputs) -> int:
    """Model steps spanned by ``inputs`` (from the first timed input)."""
    spec, x = next((s, x) for s, x in zip(model.data_inputs, inputs) if s.per_hop)
    return x.shape[-1] // spec.per_hop


def chunk(model: StreamingModel, inputs: Inputs, start_hop: int, hops: int) -> list[np.ndarray]:
    """Hops ``[start_hop, start_hop + hops)`` of every timed input; control values whole."""
    return [x[..., start_hop * s.per_hop:(start_hop + hops) * s.per_hop] if s.per_hop else x
            for s, x in zip(model.data_inputs, inputs)]


def verification_inputs(model: StreamingModel, n_hops: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """``{"noise", "music"}`` test inputs of ``n_hops`` steps for every data input of ``model``."""
    rng = np.random.default_rng(seed + 1)
    out: dict[str, list[np.ndarray]] = {"noise": [], "music": []}
    for spec in model.data_inputs:
        shape = (1, *spec.features, n_hops * spec.per_hop) if spec.per_hop else (1, *spec.features)
        if spec.kind == "audio":
            for name, x in test_signals(model.sample_rate, spec.features[0], n_hops * spec.per_hop, seed).items():
                out[name].append(x)
        elif spec.kind == "tokens":
            out["noise"].append(rng.integers(0, spec.vocab_size, shape, dtype=np.int64))
            runs = rng.integers(1, 9, shape[-1])  # runs of 1..8 repeated frames
            starts = np.repeat(np.arange(len(runs)), runs)[:shape[-1]]
            values = rng.integers(0, spec.vocab_size, (*shape[:-1], len(runs)), dtype=np.int64)
            out["music"].append(np.ascontiguousarray(values[..., starts]))
        else:
            for name in out:
                out[name].append((0.5 * rng.standard_normal(shape)).astype(np.float32))
    return out


def torch_outputs(model: StreamingModel, inputs: np.ndarray | Inputs, block_hops: int | None = None) -> list[np.ndarray]:
    """Outputs of ``model`` over ``inputs`` offline (one call) or streamed in blocks of hops."""
    inputs = as_inputs(model, inputs)
    total = n_hops_of(model, inputs)
    step = block_hops or total
    state, chunks = None, []
    with torch.no_grad():
        for i in range(0, total, step):
            *outs, state = model(*(torch.from_numpy(x) for x in chunk(model, inputs, i, step)), state)
            chunks.append([o.numpy() for o in outs])
    return [np.concatenate(parts, axis=-1) for parts in zip(*chunks)]


def ort_outputs(session: ort.InferenceSession, model: StreamingModel, inputs: np.ndarray | Inputs,
                block_hops: int | None = None) -> list[np.ndarray]:
    """Outputs of the ONNX model over ``inputs``, one call or streamed in blocks of hops with
    state carried."""
    inputs = as_inputs(model, inputs)
    names, outputs = io_names(model)
    state = [s.numpy() for s in model.initial_state(1).values()]
    n_out = len(model.outputs)
    total = n_hops_of(model, inputs)
    step = block_hops or total
    chunks = []
    for i in range(0, total, step):
        feeds = dict(zip(names, [*chunk(model, inputs, i, step), *state]))
        try:
            res = session.run(outputs, feeds)
        except Exception as exc:  # onnxruntime's exception types are private
            raise ExportError(f"onnxruntime failed on a chunk of {min(step, total - i)} hops "
                              f"(a length baked into the graph?): {str(exc).splitlines()[0][:160]}") from exc
        chunks.append(res[:n_out])
        state = res[n_out:]
    return [np.concatenate(parts, axis=-1) for parts in zip(*chunks)]


def compare(model: StreamingModel, ref: list[np.ndarray], got: list[np.ndarray], tolerance: float, what: str) -> float:
    """Max abs diff over float outputs; raise ExportError naming ``what`` on any mismatch."""
    worst = 0.0
    for spec, r, g in zip(model.outputs, ref, got):
        if r.shape != g.shape:
            raise ExportError(f"{what}: output {spec.name!r} has shape {list(g.shape)}, expected {list(r.shape)}")
        if np.issubdtype(r.dtype, np.integer):
            bad = int((r != g).sum())
            if bad:
                first = int(np.argwhere(r != g)[0][-1])
                raise ExportError(f"{what}: {bad} values of integer output {spec.name!r} differ (first at time index {first})")
            continue
        diff = np.abs(r.astype(np.float64) - g.astype(np.float64))
        err = float(diff.max()) if diff.size else 0.0
        if not np.isfinite(err) or err > tolerance:
            first = int(np.argwhere(~(diff <= tolerance))[0][-1])
            raise ExportError(f"{what}: output {spec.name!r} differs by {err:.3g} > {tolerance:g} "
                              f"(first at time index {first})")
        worst = max(worst, err)
    return worst


def check_causal(model: StreamingModel, inputs: np.ndarray | Inputs, tolerance: float) -> None:
    """Raise if changing the timed inputs after the middle hop changes any earlier output frame."""
    inputs = as_inputs(model, inputs)
    k = n_hops_of(model, inputs) // 2
    rng = np.random.default_rng(1)
    changed = []
    for spec, x in zip(model.data_inputs, inputs):
        x = x.copy()
        if spec.per_hop:
            future = x[..., k * spec.per_hop:]
            if spec.kind == "tokens":  # every future token changed (a random draw may repeat it)
                future[...] = (future + rng.integers(1, max(spec.vocab_size, 2), future.shape)) % spec.vocab_size
            else:
                future[...] = rng.standard_normal(future.shape)
        changed.append(x)
    a, b = torch_outputs(model, inputs), torch_outputs(model, changed)
    for spec, x, y in zip(model.outputs, a, b):
        past = k * spec.per_hop
        diff = np.abs(x[..., :past].astype(np.float64) - y[..., :past].astype(np.float64))
        if diff.size and diff.max() > tolerance:
            frame = int(np.argwhere(diff > tolerance)[0][-1])
            raise ExportError(f"not causal: output {spec.name!r} at time index {frame} changed when only the inputs "
                              f"after hop {k} changed (undeclared lookahead?)")


def _session(proto: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(proto.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's exception types are private
        raise ExportError(f"onnxruntime cannot load the exported graph: {str(exc).splitlines()[0]}") from exc


def check_graph(model: StreamingModel, proto: onnx.ModelProto) -> None:
    """onnx.checker plus the contract-2 names and order."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # checker raises ValidationError or InferenceError
        raise ExportError(f"onnx.checker rejected the graph: {str(exc).splitlines()[0]}") from exc
    inputs, outputs = io_names(model)
    got_in = [i.name for i in proto.graph.input]
    got_out = [o.name for o in proto.graph.output]
    if got_in != inputs or got_out != outputs:
        raise ExportError(f"graph names {got_in} -> {got_out} do not follow contract 2 ({inputs} -> {outputs})")


def covering(model: StreamingModel, options: VerifyOptions) -> VerifyOptions:
    """``options`` with signals long enough to roll every transformer KV cache past its end
    (a cache that never fills would leave the rolling untested)."""
    from models.transformer import CausalTransformer  # local: only this check needs it

    need = max((m.config.cache_frames + 2 * max(options.block_hops) for m in model.modules()
                if isinstance(m, CausalTransformer)), default=0)
    return replace(options, n_hops=max(options.n_hops, need))


def _check_block_hops(options: VerifyOptions) -> None:
    if 1 not in options.block_hops or len(options.block_hops) < 3:
        raise ExportError(f"block_hops {options.block_hops} must hold >= 3 sizes including 1 hop")


def verify_torch(model: StreamingModel, options: VerifyOptions = VerifyOptions()) -> dict[str, float]:
    """Torch-only checks (causality, streaming = offline), run before exporting.

    Returns the worst diff per check. Raises ExportError on the first failure.
    """
    _check_block_hops(options)
    model = model.eval()
    report: dict[str, float] = {}
    for name, inputs in verification_inputs(model, options.n_hops, options.seed).items():
        check_causal(model, inputs, options.tolerance)
        ref = torch_outputs(model, inputs)
        for hops in options.block_hops:
            b = hops * model.hop
            report[f"{name}.torch_stream_{b}"] = compare(
                model, ref, torch_outputs(model, inputs, hops), options.tolerance,
                f"{name}: torch streaming in blocks of {b} samples vs offline (model is not streaming-causal)")
    return report


def verify_onnx(model: StreamingModel, proto: onnx.ModelProto, options: VerifyOptions = VerifyOptions()) -> dict[str, float]:
    """Graph checks and onnxruntime (one call and streamed) against torch offline.

    Returns the worst diff per check. Raises ExportError on the first failure.
    """
    _check_block_hops(options)
    model = model.eval()
    check_graph(model, proto)
    session = _session(proto)
    report: dict[str, float] = {}
    for name, inputs in verification_inputs(model, options.n_hops, options.seed).items():
        ref = torch_outputs(model, inputs)
        report[f"{name}.ort_offline"] = compare(
            model, ref, ort_outputs(session, model, inputs), options.tolerance, f"{name}: onnxruntime vs torch offline")
        for hops in options.block_hops:
            b = hops * model.hop
            report[f"{name}.ort_stream_{b}"] = compare(
                model, ref, ort_outputs(session, model, inputs, hops), options.tolerance,
                f"{name}: onnxruntime streaming in blocks of {b} samples vs torch offline")
    return report


def verify(model: StreamingModel, proto: onnx.ModelProto, options: VerifyOptions = VerifyOptions()) -> dict[str, float]:
    """Every check (``verify_torch`` then ``verify_onnx``); raises ExportError on the first failure."""
    return {**verify_torch(model, options), **verify_onnx(model, proto, options)}
