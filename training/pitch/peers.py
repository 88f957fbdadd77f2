"""The pitch trackers compared by ``training.pitch.evaluate``, behind one interface.

Each method turns mono float32 audio at its native rate into a ``Track`` (described instants,
f0, voicing decision, confidence) and declares its look-ahead: how far past a described instant
its estimate reads audio, i.e. how long a live listener waits for it (the rtmir convention,
docs/ARCHITECTURE.md). Every method resamples inside ``estimate`` (that cost is counted).

| method      | what runs                                   | look-ahead (declared)                     |
|-------------|---------------------------------------------|-------------------------------------------|
| ours        | rtmir runtime, ``--task pitch`` (the ONNX   | card ``latency_samples``                  |
|             | streamed block by block)                    |                                           |
| yin         | rtmir runtime, ``--task yin`` (numba)       | ``latency_samples`` (half the frame)      |
| crepe-full  | torchcrepe full, weighted-argmax decoding   | 1024-sample window centred, 16 kHz: 32 ms |
| crepe-tiny  | torchcrepe tiny, same                       | 32 ms                                     |
| pesto       | pesto-pitch offline (whole file)            | half its longest CQT kernel (66.5 ms)     |
| pesto-stream| pesto-pitch ``streaming=True`` hop by hop   | half its CQT kernel width (128 ms)        |
| swift-f0    | SwiftF0 (ONNX in its wheel), offline        | 11 frames of 256 at 16 kHz (176 ms)       |
| pyin        | librosa.pyin (HMM over the whole file)      | whole file (no causal score)              |

Voicing: rtmir's and pYIN's own decisions; CREPE periodicity >= 0.21 (torchcrepe's README);
PESTO confidence >= 0.5 (no threshold documented); SwiftF0 confidence >= 0.5 (its docstring).
CREPE uses weighted-argmax decoding, not torchcrepe's default Viterbi, which would smooth over
the whole file and so have no finite look-ahead.
"""
from __future__ import annotations

import hashlib
import sys
import types
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from .eval_metrics import Track

PEER_RATE = 16000
"""Rate the neural peers run at (CREPE, PESTO, SwiftF0, pYIN here), Hz."""
HOP_S = 0.01
"""Hop of every method that lets us choose, seconds."""


class MethodUnavailable(RuntimeError):
    """A method cannot run here (package missing, model not shipped); the message says why."""


class Method(ABC):
    """One pitch tracker. ``prepare`` loads and warms up; ``estimate`` is what gets timed."""

    name: str = "method"
    lookahead_s: float | None = None  # None = needs the whole file
    lookahead_note: str = ""
    version: str = ""

    def prepare(self) -> None:
        """Load weights, JIT-compile and warm up (not timed)."""

    @abstractmethod
    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        """Track of mono ``audio [N]`` float32 at ``sr`` Hz."""

    def cache_key(self) -> str:
        """Changes whenever the method's output could change (name, version, settings)."""
        return f"{self.name}-{self.version}"


def to_rate(audio: np.ndarray, sr: int, rate: int = PEER_RATE) -> np.ndarray:
    """soxr HQ resampling of mono float32 ``audio`` (no-op at ``rate``)."""
    if sr == rate:
        return audio
    import soxr

    return soxr.resample(audio, sr, rate, quality="HQ").astype(np.float32)


def single_thread_torch():
    """torch with one intra-op thread (and torchaudio stubbed if its binary cannot load).

    torchcrepe and pesto-pitch import torchaudio at import time but only use it to read files;
    PyPI's newest torchaudio (2.11, a CUDA build) cannot load beside our CPU torch 2.13, so a
    placeholder module stands in for it (any use of it raises AttributeError).
    """
    import torch

    torch.set_num_threads(1)
    try:
        import torchaudio  # noqa: F401
    except (OSError, ImportError):
        for k in [k for k in sys.modules if k.startswith("torchaudio")]:
            del sys.modules[k]
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    return torch


class _EventCollector:
    """An rtmir sink that keeps every event (f0_hz, voiced, confidence)."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, bool, float]] = []

    def send(self, events) -> None:
        self.rows.extend((e.t, float(e.values["f0_hz"]), bool(e.values["voiced"]),
                          float(e.values["confidence"])) for e in events)

    def status(self, stats: dict) -> None:
        pass

    def close(self) -> None:
        pass


class RtmirMethod(Method):
    """A ``--task`` of the rtmir runtime, streamed in-process: ``Engine`` fed host blocks of
    ``block`` samples at the clip's rate, exactly as ``rtmir stream --task TASK --block N`` does
    (``FileHost`` minus the file reading). One processor, prepared (reset) per clip. The tracks do
    not depend on ``block`` (streaming = offline); the CPU cost does, so it is part of the cache key:
    4096 is ``rtmir stream``'s default for files, 256 a live host block."""

    def __init__(self, task: str, name: str, block: int = 4096, model: str | None = None) -> None:
        self.task, self.name, self.block, self.model = task, name, block, model
        self.version = "rtmir"

    def prepare(self) -> None:
        from rtmir.tasks.registry import build_processor
        from rtmir.zoo import ZOO_DIR

        if self.task == "pitch" and self.model is None and not (ZOO_DIR / "pitch-tcn.onnx").is_file():
            raise MethodUnavailable("rtmir/zoo/pitch-tcn.onnx is not shipped yet")
        try:
            proc = self._proc = build_processor(self.task, self.model)
        except Exception as exc:  # UnknownTaskError, ModelError, ...: say why and skip
            raise MethodUnavailable(f"rtmir --task {self.task}: {exc}") from exc
        # the processor's module (and its siblings named like it, e.g. yin_kernel.py) and its
        # model file: a change to either invalidates the cached tracks
        import inspect

        source = Path(inspect.getfile(type(proc)))
        digest = hashlib.sha256()
        for f in sorted(source.parent.glob(f"{source.stem}*.py")):
            digest.update(f.read_bytes())
        model = getattr(getattr(proc, "session", None), "path", None)
        if model is not None:
            digest.update(Path(model).read_bytes())
        self.version = f"rtmir-{digest.hexdigest()[:12]}-block{self.block}"
        self.estimate(np.zeros(4410, np.float32), 44100)  # JIT / session warm-up

    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        from rtmir.core.engine import Engine

        proc = self._proc
        sink = _EventCollector()
        engine = Engine([proc], [sink])
        engine.prepare(sr, 1, self.block)  # resets the processor: every clip is a fresh stream
        self.lookahead_s = proc.latency_samples / engine.nodes[0].rate
        self.lookahead_note = (f"latency_samples {proc.latency_samples} at {engine.nodes[0].rate} Hz")
        x = audio[None, :]
        for start in range(0, x.shape[1], self.block):
            engine.push(np.ascontiguousarray(x[:, start:start + self.block]))
        engine.finish()
        rows = np.array(sink.rows, dtype=np.float64).reshape(-1, 4)
        return Track(rows[:, 0], rows[:, 1], rows[:, 2] > 0.5, rows[:, 3])


class CrepeMethod(Method):
    """torchcrepe (weights in its wheel) with weighted-argmax decoding, 10 ms hop, 50…2000 Hz."""

    lookahead_s = 512 / 16000
    lookahead_note = "1024-sample window centred at 16 kHz (per-frame decoding)"
    threshold = 0.21

    def __init__(self, capacity: str) -> None:
        self.capacity, self.name = capacity, f"crepe-{capacity}"

    def prepare(self) -> None:
        try:
            torch = single_thread_torch()
            import torchcrepe
        except ImportError as exc:
            raise MethodUnavailable(f"torchcrepe is not installed: {exc}") from exc
        self._torch, self._crepe = torch, torchcrepe
        self.version = f"{_version('torchcrepe')}-wargmax-{self.threshold}"
        torchcrepe.load.model("cpu", self.capacity)
        self.estimate(np.zeros(16000, np.float32), 16000)

    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        x = to_rate(audio, sr)
        torch, crepe = self._torch, self._crepe
        with torch.inference_mode():
            f0, per = crepe.predict(torch.from_numpy(x)[None], PEER_RATE, hop_length=160, fmin=50.0, fmax=2000.0,
                                    model=self.capacity, decoder=crepe.decode.weighted_argmax,
                                    return_periodicity=True, batch_size=512, device="cpu", pad=True)
        f0, per = f0[0].numpy().astype(np.float64), per[0].numpy().astype(np.float64)
        return Track(np.arange(len(f0)) * HOP_S, f0, per >= self.threshold, per)


class PestoMethod(Method):
    """pesto-pitch mir-1k_g7 (weights in its wheel) at 16 kHz, 10 ms steps; offline (whole
    file, centred CQT) or ``streaming=True`` (cached CQT, one 160-sample hop per call)."""

    threshold = 0.5

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self.name = "pesto-stream" if streaming else "pesto"

    def prepare(self) -> None:
        try:
            torch = single_thread_torch()
            import pesto
        except ImportError as exc:
            raise MethodUnavailable(f"pesto-pitch is not installed: {exc}") from exc
        self._torch, self._pesto = torch, pesto
        self.version = f"{_version('pesto-pitch')}-{self.threshold}"
        self._model = self._load()
        cqt = self._model.preprocessor.hcqt_kernels.cqt_kernels[0]
        if self.streaming:
            # a frame leaves after its whole kernel_width window has arrived; it describes the
            # window's centre (pesto.utils.hcqt.StreamingCQT, mirror=0: no zeros stand in)
            self.lookahead_s = (cqt.kernel_width // 2) / PEER_RATE
            self.lookahead_note = f"half the streaming CQT window ({cqt.kernel_width} samples at 16 kHz)"
        else:
            longest = int(round(float(cqt.sqrt_lengths.max()) ** 2))
            self.lookahead_s = int(np.ceil(longest / 2)) / PEER_RATE
            self.lookahead_note = f"half the longest centred CQT kernel ({longest} samples at 16 kHz)"
        self._kernel_width = cqt.kernel_width
        self.estimate(np.zeros(16000, np.float32), 16000)

    def _load(self):
        return self._pesto.load_model("mir-1k_g7", step_size=HOP_S * 1000, sampling_rate=PEER_RATE,
                                      streaming=self.streaming)

    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        x = self._torch.from_numpy(to_rate(audio, sr))
        with self._torch.inference_mode():
            if not self.streaming:
                f0, conf, _ = self._model(x, sr=PEER_RATE, convert_to_freq=True, return_activations=False)
                times = np.arange(len(f0)) * HOP_S
            else:
                model = self._load()  # a fresh circular buffer per stream (pesto's README)
                hop = int(HOP_S * PEER_RATE)
                outs = [model(x[None, s:s + hop], sr=PEER_RATE, convert_to_freq=True, return_activations=False)
                        for s in range(0, len(x) - hop + 1, hop)]
                f0 = self._torch.cat([o[0].reshape(-1) for o in outs])
                conf = self._torch.cat([o[1].reshape(-1) for o in outs])
                # frame j completes at sample (j+1)*hop and describes lookahead before that
                times = ((np.arange(len(f0)) + 1) * hop - self._kernel_width // 2) / PEER_RATE
        f0, conf = f0.numpy().astype(np.float64).reshape(-1), conf.numpy().astype(np.float64).reshape(-1)
        keep = times >= 0
        return Track(times[keep], f0[keep], conf[keep] >= self.threshold, conf[keep])


class SwiftF0Method(Method):
    """SwiftF0 (ONNX in its wheel), one ORT thread, offline ``detect`` (16 ms frames)."""

    name = "swift-f0"
    threshold = 0.5

    def prepare(self) -> None:
        try:
            import swift_f0
            from swift_f0 import core
        except ImportError as exc:
            raise MethodUnavailable(f"swift-f0 is not installed: {exc}") from exc
        self.version = _version("swift-f0")
        self._det = swift_f0.SwiftF0(threads=1, spin=False)
        # its PitchStream emits frame k once (k + 1 + LOOKAHEAD_FRAMES) hops have arrived, and
        # frame k describes sample k * HOP: look-ahead (LOOKAHEAD_FRAMES + 1) * HOP samples
        self.lookahead_s = (core.LOOKAHEAD_FRAMES + 1) * core.HOP / core.SAMPLE_RATE
        self.lookahead_note = (f"{core.LOOKAHEAD_FRAMES + 1} frames of {core.HOP} samples at 16 kHz "
                               "(swift_f0.core: receptive field 2815 samples each way)")
        self.estimate(np.zeros(16000, np.float32), 16000)

    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        r = self._det.detect(to_rate(audio, sr), PEER_RATE)
        return Track(r.timestamps, r.pitch_hz, r.confidence >= self.threshold, r.confidence)


class PyinMethod(Method):
    """librosa.pyin at 16 kHz, 10 ms hop, 1024-sample frames, 55…2000 Hz; its own voicing."""

    name = "pyin"
    lookahead_s = None
    lookahead_note = "whole file (HMM Viterbi over all frames)"

    def prepare(self) -> None:
        try:
            import librosa
        except ImportError as exc:
            raise MethodUnavailable(f"librosa is not installed: {exc}") from exc
        self._librosa = librosa
        self.version = librosa.__version__
        self.estimate(np.zeros(16000, np.float32), 16000)

    def estimate(self, audio: np.ndarray, sr: int) -> Track:
        x = to_rate(audio, sr)
        f0, voiced, prob = self._librosa.pyin(x, fmin=55.0, fmax=2000.0, sr=PEER_RATE, frame_length=1024,
                                              hop_length=160, center=True, fill_na=None)
        return Track(np.arange(len(f0)) * HOP_S, np.nan_to_num(f0), voiced, prob)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def build_method(name: str, model: str | None = None, candidate: str | None = None) -> Method:
    """The method called ``name`` (see ``METHODS``), not yet prepared; ``model`` (a zoo name or
    an ``.onnx`` path) replaces the shipped model of "ours" and "ours-live"; ``candidate`` is the
    model of "cand" and "cand-live" (a model in training, scored beside the shipped one).

    Raises:
        KeyError: unknown name, or "cand"/"cand-live" without ``candidate``.
    """
    if name in ("cand", "cand-live") and not candidate:
        raise KeyError(f"method {name!r} needs a candidate model (--candidate PATH)")
    factories = {
        "ours": lambda: RtmirMethod("pitch", "ours", model=model),
        "ours-live": lambda: RtmirMethod("pitch", "ours-live", block=256, model=model),
        "cand": lambda: RtmirMethod("pitch", "cand", model=candidate),
        "cand-live": lambda: RtmirMethod("pitch", "cand-live", block=256, model=candidate),
        "yin": lambda: RtmirMethod("yin", "yin"),
        "crepe-full": lambda: CrepeMethod("full"),
        "crepe-tiny": lambda: CrepeMethod("tiny"),
        "pesto": lambda: PestoMethod(streaming=False),
        "pesto-stream": lambda: PestoMethod(streaming=True),
        "swift-f0": SwiftF0Method,
        "pyin": PyinMethod,
    }
    if name not in factories:
        raise KeyError(f"unknown method {name!r}: choose from {', '.join(METHODS)}")
    return factories[name]()


METHODS = ("ours", "ours-live", "cand", "cand-live", "yin", "crepe-full", "crepe-tiny", "pesto", "pesto-stream",
           "swift-f0", "pyin")
"""Every method, in table order ("cand", "cand-live": only with a candidate model)."""
