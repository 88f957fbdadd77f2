"""A small library of real audio for the batch tests, and ``rtmir`` run as a user runs it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

DEMO = Path(__file__).resolve().parents[3] / "rtmir" / "data" / "demo.flac"


def make_library(root: Path) -> list[Path]:
    """Three files of other rates, channels and formats in two folders: the bundled clip, a
    stereo 48 kHz WAV of a glide with noise, a 22.05 kHz OGG of two tones."""
    (root / "albums" / "one").mkdir(parents=True)
    files = [root / "albums" / "clip.flac", root / "albums" / "one" / "glide.wav", root / "albums" / "one" / "tones.ogg"]
    shutil.copy(DEMO, files[0])
    rng = np.random.default_rng(7)
    t = np.arange(int(48000 * 3.0)) / 48000
    glide = 0.4 * np.sin(2 * np.pi * np.cumsum(np.linspace(110, 440, t.size)) / 48000)
    sf.write(files[1], np.stack([glide, glide + 0.01 * rng.standard_normal(t.size)], 1).astype(np.float32), 48000,
             subtype="FLOAT")
    t = np.arange(int(22050 * 2.5)) / 22050
    tones = 0.3 * np.sin(2 * np.pi * np.where(t < 1.2, 196.0, 330.0) * t)
    sf.write(files[2], tones.astype(np.float32), 22050, format="OGG", subtype="VORBIS")
    return files


def rtmir(*args, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """``python -m rtmir ARGS`` (stdout and stderr captured as text)."""
    return subprocess.run([sys.executable, "-m", "rtmir", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def stream_jsonl(audio: Path, tasks: list[str], out: Path, block: int = 4096) -> bytes:
    """The bytes ``rtmir stream AUDIO --task ... --jsonl OUT`` writes."""
    r = rtmir("stream", audio, *[a for t in tasks for a in ("--task", t)], "--block", block, "--jsonl", out)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
