"""Note F1 of the streaming transcriber and of Basic Pitch, side by side, on the mix and on each stem.

    python -m training.notes.evaluate --data data/notes/eval-msg-s606 --model rtmir/zoo/notes-tcn.onnx \\
        --peer basic-pitch --json docs/results/notes_eval.json
    python -m training.notes.evaluate --data data/notes/val-msg --model CANDIDATE.onnx --tune   # thresholds

Data: band pieces rendered with ``--labels aligned`` (MuseScore_General for validation). For each
clip the inputs are the mix and the true stems: ``melody``, ``bass`` and ``other`` (chords, pad
and a doubling line summed), each at its level in the mix; the reference notes of an input are
its stems' notes as the audio has them (``labels.example_notes``: from attack to the end of the
audible release), drum hits on the mix only.

Ours: ``NotesProcessor`` behind a ``BlockAdapter`` (blocks of 256 samples at 16 kHz), exactly
what ``rtmir stream --task notes`` runs, its events' time stamps used as they are. Basic Pitch
0.4.0: its wheel's ONNX through onnxruntime, offline over the whole clip, default note settings
(``pip install --no-deps basic-pitch==0.4.0 pretty_midi resampy six importlib_resources``: its
TensorFlow dependencies are not needed for the ONNX model). Figures are pooled over clips
(``metrics.NoteScore``); CPU s per s of audio from ``time.process_time``.

``--tune`` chooses the decoder's thresholds on a validation set (offline probabilities, equal to
the streamed ones) by pooled onset F1 on the mix (pitched notes; the drum threshold by the mean
of kick, snare and hi-hat F1), and prints them as the card's ``--evaluation`` fields.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from .labels import Note, example_notes
from .metrics import NoteScore

log = logging.getLogger(__name__)
RATE = 16000
INPUTS = {"mix": None, "melody": ("melody",), "bass": ("bass",), "other": ("chords", "pad", "double")}
"""Input name -> the stems summed into it (None: the mix)."""


def clip_inputs(folder, index: int) -> dict[str, tuple[np.ndarray, list[Note], int]]:
    """``{input: (audio [N] float32 at the file's rate, reference notes, rate)}`` of one example
    (inputs whose stems the piece does not have are left out)."""
    meta, labels = folder.meta(index), folder.labels(index)
    notes = example_notes(labels, meta)
    out = {}
    for name, stems in INPUTS.items():
        if stems is None:
            audio = folder.audio(index)[0]
            out[name] = (audio, notes, meta["sample_rate"])
            continue
        have = [s for s in stems if s in meta["stems"]]
        if not have:
            continue
        audio = sum(folder.audio(index, file=f"stems/{s}.flac")[0] for s in have)
        out[name] = (audio, [n for n in notes if n.stem in have and not n.drum], meta["sample_rate"])
    return out


class Ours:
    """The transcriber as a user streams it (module docstring)."""

    def __init__(self, model: str, block: int = 256, thresholds: dict[str, float] | None = None) -> None:
        from rtmir import StreamingSession
        from rtmir.tasks.notes import NotesProcessor

        self.proc = NotesProcessor(StreamingSession(model))
        for k, v in (thresholds or {}).items():
            self.proc.set_param(k, v)
        self.block = block

    def __call__(self, audio: np.ndarray, rate: int) -> list[Note]:
        import soxr

        from rtmir import BlockAdapter, ProcessSpec
        from rtmir.tasks.note_decoder import NoteChange, notes_from_changes

        x = soxr.resample(audio, rate, RATE).astype(np.float32) if rate != RATE else audio.astype(np.float32)
        adapter = BlockAdapter(self.proc)
        adapter.prepare(ProcessSpec(RATE, self.block, 1))
        events = []
        for i in range(0, len(x), self.block):
            events += adapter.push(np.ascontiguousarray(x[None, i:i + self.block]))
        changes = [(e.t, NoteChange(0, bool(e.values["on"]), int(e.values["pitch"]), int(e.values["velocity"]),
                                    bool(e.values["drum"]))) for e in events]
        return [Note(a, b, p, v, "", d) for a, b, p, v, d in notes_from_changes(changes, len(x) / RATE)]


class BasicPitch:
    """Basic Pitch 0.4.0's ONNX model, offline, default settings (module docstring)."""

    def __init__(self) -> None:
        import basic_pitch

        self.model = str(Path(basic_pitch.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx")
        self._dir = tempfile.TemporaryDirectory()

    def __call__(self, audio: np.ndarray, rate: int) -> list[Note]:
        from basic_pitch import inference

        wav = Path(self._dir.name) / "clip.wav"
        sf.write(wav, audio, rate)
        _, _, events = inference.predict(str(wav), self.model)
        return sorted((Note(float(a), max(float(b), float(a) + 1e-3), int(p), int(127 * float(v)), "", False)
                       for a, b, p, v, *_ in events), key=lambda n: (n.onset_s, n.pitch))


def evaluate(data: str, methods: dict, limit: int | None = None) -> dict:
    """``{method: {input: figures, "cpu_s_per_s": ...}}`` over the examples of ``data``."""
    from training.synth.folder import SynthFolder

    folder = SynthFolder(data, limit)
    scores = {m: {name: NoteScore() for name in INPUTS} for m in methods}
    cpu = {m: 0.0 for m in methods}
    audio_s = 0.0
    for i in range(len(folder)):
        for name, (audio, ref, rate) in clip_inputs(folder, i).items():
            if name == "mix":
                audio_s += len(audio) / rate
            for m, run in methods.items():
                t0 = time.process_time()
                est = run(audio, rate)
                if name == "mix":
                    cpu[m] += time.process_time() - t0
                scores[m][name].add(ref, est if name == "mix" else [n for n in est if not n.drum])
        log.info("clip %d/%d: %s", i + 1, len(folder), {m: round(s["mix"].onset.f1(), 3) for m, s in scores.items()})
    return {"data": str(data), "clips": len(folder), "audio_s": audio_s,
            "methods": {m: {**{name: s.figures() for name, s in per.items()}, "cpu_s_per_s": cpu[m] / audio_s}
                        for m, per in scores.items()}}


GRID = {"onset_threshold": (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6), "frame_threshold": (0.1, 0.2, 0.3, 0.4, 0.5),
        "offset_threshold": (0.3, 0.5, 0.7, 1.01)}
DRUM_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
"""Thresholds tried by ``tune`` (an offset threshold over 1 never ends a note: frames alone do)."""


def tune(data: str, model: str, limit: int | None = None) -> dict:
    """The thresholds with the best pooled mix onset F1 (pitched; drums by kick/snare/hi-hat F1)
    on ``data``, from offline probabilities (module docstring)."""
    import soxr

    from rtmir import StreamingSession
    from training.synth.folder import SynthFolder

    from .metrics import transcribe

    session = StreamingSession(model)
    card = session.card
    folder = SynthFolder(data, limit)
    probs, refs = [], []
    for i in range(len(folder)):
        audio, ref, rate = clip_inputs(folder, i)["mix"]
        x = soxr.resample(audio, rate, RATE).astype(np.float32)
        session.reset()
        out = session.process(x[None, : len(x) // card.hop * card.hop])
        probs.append(out["probs"][0].copy() if "probs" in out else 1.0 / (1.0 + np.exp(-out["logits"][0])))
        refs.append(ref)

    def f1(th: dict) -> dict:
        s = NoteScore()
        for p, ref in zip(probs, refs):
            s.add(ref, transcribe(p, card.hop, card.latency_samples, RATE, th))
        return s.figures()

    trials = []
    for values in itertools.product(*GRID.values()):
        th = dict(zip(GRID, values))
        trials.append((f1(th)["onset"]["f1"], th))
    best_f1, best = max(trials, key=lambda x: x[0])
    drums = max(DRUM_GRID, key=lambda d: f1({**best, "drum_threshold": d})["drums_f1_kick_snare_hihat"])
    best = {**best, "drum_threshold": drums}
    return {"thresholds": best, "figures": f1(best), "default_figures": f1({})}


def markdown(result: dict) -> str:
    """The evaluation as Markdown tables: note F1 per input and method, drums per class (ours
    only: Basic Pitch has no drum output)."""
    methods = result["methods"]
    lines = [f"{result['clips']} clips, {result['audio_s']:.0f} s of mix (`{result['data']}`); pooled over clips, "
             "onset within 50 ms (onset+offset: offset within max(50 ms, 20 %)).", "",
             "| input | method | onset F1 | precision | recall | onset+offset F1 | reference notes |",
             "|---|---|---|---|---|---|---|"]
    for name in INPUTS:
        for m, per in methods.items():
            f = per[name]
            lines.append(f"| {name} | {m} | {f['onset']['f1']:.3f} | {f['onset']['precision']:.3f} | "
                         f"{f['onset']['recall']:.3f} | {f['onset_offset']['f1']:.3f} | {f['onset']['n_ref']} |")
    lines += ["", "| drums (mix) | " + " | ".join(methods) + " | hits |", "|---|" + "---|" * (len(methods) + 1)]
    first = next(iter(methods.values()))
    for cls in first["mix"]["drums"]:
        cells = [f"{per['mix']['drums'][cls]['f1']:.3f}" if m == "ours" else "—" for m, per in methods.items()]
        lines.append(f"| {cls} | " + " | ".join(cells) + f" | {first['mix']['drums'][cls]['n_ref']} |")
    lines += ["", "| method | CPU s per s of audio (mix) |", "|---|---|"]
    lines += [f"| {m} | {per['cpu_s_per_s']:.4f} |" for m, per in methods.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.notes.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a synth folder rendered with --labels aligned")
    ap.add_argument("--model", required=True, help="the notes model (.onnx)")
    ap.add_argument("--peer", action="append", default=[], help="basic-pitch")
    ap.add_argument("--limit", type=int, help="first N examples only")
    ap.add_argument("--tune", action="store_true", help="choose the decoder thresholds on DATA instead")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--markdown", help="write the tables here (not with --tune)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.tune:
        out = tune(args.data, args.model, args.limit)
    else:
        methods = {"ours": Ours(args.model)}
        if "basic-pitch" in args.peer:
            methods["basic-pitch"] = BasicPitch()
        out = evaluate(args.data, methods, args.limit)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    if args.markdown and not args.tune:
        Path(args.markdown).write_text(markdown(out))
    for m, per in out.get("methods", {}).items():
        log.info("%s: %s; %.4f CPU s/s", m, ", ".join(f"{k} onset F1 {v['onset']['f1']:.3f}" for k, v in per.items()
                                                      if isinstance(v, dict)), per["cpu_s_per_s"])
    if args.tune:
        log.info("thresholds %s: mix onset F1 %.3f (defaults %.3f)", out["thresholds"], out["figures"]["onset"]["f1"],
                 out["default_figures"]["onset"]["f1"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
