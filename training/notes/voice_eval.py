"""Note F1 of the monophonic MIDI voice (``rtmir stream --task pitch|yin --midi-file``) on
FluidSynth-rendered melodies, against notes aligned to the audio.

Reference notes come from the audio (``training.synth.aligned``): each note's own render gives its
voiced span — from where it is periodic at its pitch to where it stops being audible and periodic
— and its pitch is the score's (bends are expression inside the note). Notes that never sound
(too short or quiet to have a pitch) are left out. Estimates are the notes of the Standard MIDI
File rtmir writes for the rendered clip, through the command line a user runs.

Scores: ``mir_eval.transcription`` onset F1 (50 ms, 50 cents, offsets ignored) and onset+offset F1
(offset within 20 % of the note or 50 ms), mean over clips; clips of ``training.synth.arrange.
generate_mono`` (every melodic family, 30–220 BPM) at 44.1 kHz, soundfont MuseScore_General
(validation only).

    python -m training.notes.voice_eval --n 20 --seconds 8 --json docs/results/midi_voice_eval.json

``--task basic-pitch`` runs the peer: Basic Pitch 0.4.0's own ONNX model (in its wheel) through
onnxruntime with its default note settings, offline over the whole clip (polyphonic: it may add
notes a monophonic voice cannot). Its TensorFlow dependencies are not needed for the ONNX model:
``pip install --no-deps basic-pitch==0.4.0 pretty_midi resampy six importlib_resources``.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)
RATE = 44100


def reference_notes(seed: int, seconds: float, soundfont: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(audio [N], intervals [n, 2] s, pitches [n] Hz, instrument)`` of one rendered melody."""
    from training.synth.aligned import clip_ref_db, note_spans, render_groups
    from training.synth.arrange import generate_mono
    from training.synth.labels import FRAME_RATE
    from training.synth.render import RenderConfig, Renderer, measure_onset_offset, render_stems
    from training.synth.soundfonts import resolve_soundfont

    score = generate_mono(np.random.default_rng(seed), seconds)
    font = resolve_soundfont(soundfont)
    renderer = Renderer(RenderConfig(RATE))
    try:
        offset = measure_onset_offset(font, renderer)
        n = int(seconds * RATE)
        stems = render_stems(score, font, renderer, offset, n)
        track = score.tracks[0]
        frames = int(seconds * FRAME_RATE)
        groups = render_groups(score, track, font, renderer, offset, n)
        spans = note_spans(score, track, groups, RATE, frames, clip_ref_db(stems, RATE, frames))
    finally:
        renderer.close()
    audio = sum(s.mean(axis=0) for s in stems.values())
    keep = [(s, note.pitch) for s, note in zip(spans, track.notes) if s is not None]
    intervals = np.array([[a / FRAME_RATE, b / FRAME_RATE] for (a, b), _ in keep]).reshape(-1, 2)
    pitches = np.array([440.0 * 2 ** ((p - 69) / 12) for _, p in keep])
    return audio.astype(np.float32), intervals, pitches, score.meta.get("instrument", "?")


def file_notes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(intervals [n, 2] s, pitches [n] Hz)`` of the notes in a Standard MIDI File."""
    import mido

    now, on, out = 0.0, {}, []
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            on[(msg.channel, msg.note)] = now
        elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in on:
            out.append((on.pop((msg.channel, msg.note)), now, msg.note))
    out.sort()
    intervals = np.array([[a, max(b, a + 1e-3)] for a, b, _ in out]).reshape(-1, 2)
    return intervals, np.array([440.0 * 2 ** ((p - 69) / 12) for *_, p in out])


def basic_pitch_notes(wav: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(intervals, pitches Hz)`` of Basic Pitch's notes for ``wav`` (its wheel's ONNX model)."""
    import basic_pitch
    from basic_pitch import inference

    model = Path(basic_pitch.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
    _, _, events = inference.predict(str(wav), str(model))
    events = sorted(events, key=lambda e: e[0])
    intervals = np.array([[float(a), max(float(b), float(a) + 1e-3)] for a, b, *_ in events]).reshape(-1, 2)
    return intervals, np.array([440.0 * 2 ** ((int(e[2]) - 69) / 12) for e in events])


def score_clip(ref_i, ref_p, est_i, est_p) -> dict:
    import mir_eval

    if len(ref_p) == 0:
        return {}
    if len(est_p) == 0:
        return {"onset_f1": 0.0, "onset_offset_f1": 0.0, "precision": 0.0, "recall": 0.0}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p, offset_ratio=None)
    _, _, f2, _ = mir_eval.transcription.precision_recall_f1_overlap(ref_i, ref_p, est_i, est_p)
    return {"onset_f1": f, "onset_offset_f1": f2, "precision": p, "recall": r}


def evaluate(n: int, seconds: float, tasks: tuple[str, ...], soundfont: str = "MuseScore_General", seed0: int = 1800) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for k in range(n):
            audio, ref_i, ref_p, instrument = reference_notes(seed0 + k, seconds, soundfont)
            wav = Path(d) / f"clip{k}.wav"
            sf.write(wav, audio, RATE)
            row = {"seed": seed0 + k, "instrument": instrument, "notes": len(ref_p)}
            for task in tasks:
                if task == "basic-pitch":
                    row[task] = score_clip(ref_i, ref_p, *basic_pitch_notes(wav))
                    continue
                mid = Path(d) / f"clip{k}_{task}.mid"
                subprocess.run([sys.executable, "-m", "rtmir", "stream", str(wav), "--task", task, "--midi-file", str(mid)],
                               check=True, capture_output=True, text=True)
                row[task] = score_clip(ref_i, ref_p, *file_notes(mid))
            rows.append(row)
            log.info("%s %s", instrument, {t: round(row[t].get("onset_f1", float("nan")), 3) for t in tasks})
    scored = [r for r in rows if r["notes"]]
    summary = {t: {key: float(np.mean([r[t][key] for r in scored])) for key in scored[0][t]} for t in tasks}
    return {"n": n, "seconds": seconds, "soundfont": soundfont, "seed0": seed0, "summary": summary, "clips": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.notes.voice_eval", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--task", action="append", help="pitch, yin, basic-pitch (the peer; default pitch and yin)")
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = evaluate(args.n, args.seconds, tuple(args.task or ("pitch", "yin")))
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    for task, s in out["summary"].items():
        log.info("%s: onset F1 %.3f, onset+offset F1 %.3f (P %.3f R %.3f)", task, s["onset_f1"], s["onset_offset_f1"],
                 s["precision"], s["recall"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
