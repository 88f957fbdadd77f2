"""The dataset manifest: what generated a dataset, so it can be reproduced and safely resumed.

``OUT/manifest.json`` holds the build config, the soundfonts (path, size, onset offset), the
versions of every tool in the chain and the command line. Resuming into a folder whose manifest
was written by a different config is refused (``ManifestMismatch``); the onset offsets stored at
creation are reused, so every example of a dataset is aligned the same way.
"""
from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .build import FORMAT_VERSION, BuildConfig, SoundfontInfo, config_record
from .gm import FAMILIES
from .labels import FRAME_RATE
from .render import RenderConfig, Renderer, fluidsynth_version, measure_onset_offset
from .soundfonts import resolve_soundfont, soundfont_name

MANIFEST = "manifest.json"


class ManifestMismatch(ValueError):
    """The output folder holds a dataset made with another config."""


def versions() -> dict[str, str]:
    """Versions of Python, FluidSynth and the Python packages that shape the output."""
    out = {"python": platform.python_version(), "fluidsynth": fluidsynth_version(),
           "training.synth format": str(FORMAT_VERSION)}
    for package in ("numpy", "scipy", "soundfile", "soxr", "mido"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def resolve_fonts(names: tuple[str, ...], sample_rate: int) -> list[SoundfontInfo]:
    """Resolve soundfonts and measure their onset offsets at ``sample_rate``.

    Raises:
        ValueError: no soundfont given. SoundfontError: one is missing. RenderError: fluidsynth failed.
    """
    if not names:
        raise ValueError("no soundfont given")
    fonts, renderer = [], Renderer(RenderConfig(sample_rate))
    try:
        for name in names:
            path = resolve_soundfont(name)
            fonts.append(SoundfontInfo(soundfont_name(name), str(path), measure_onset_offset(path, renderer)))
    finally:
        renderer.close()
    return fonts


def _normalized(record: dict) -> dict:
    """A config record as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(record))


def open_manifest(out: Path, cfg: BuildConfig, n: int, argv: list[str] | None = None) -> list[SoundfontInfo]:
    """Create ``OUT/manifest.json``, or check an existing one against ``cfg``. ``argv``: the
    command's arguments to record (default ``sys.argv[1:]``; an in-process call passes its own).

    Returns:
        The soundfonts to render with (offsets from the existing manifest when resuming).

    Raises:
        ManifestMismatch: an existing manifest has another config.
        SoundfontError, RenderError: as ``resolve_fonts``.
    """
    path = out / MANIFEST
    record = _normalized(config_record(cfg))
    if path.is_file():
        old = json.loads(path.read_text())
        old["config"].setdefault("labels", "midi")  # manifests from before the choice existed
        if old["config"] != record:
            diff = sorted(k for k in record if old["config"].get(k) != record[k])
            raise ManifestMismatch(f"{out} holds a dataset made with other settings ({', '.join(diff)}); "
                                   f"use another --out or the same options")
        for font in old["soundfonts"]:
            resolve_soundfont(font["path"])
        fonts = [SoundfontInfo(f["name"], f["path"], f["offset_samples"]) for f in old["soundfonts"]]
        old["n"] = max(old["n"], n)
        path.write_text(json.dumps(old, indent=1))
        return fonts
    fonts = resolve_fonts(cfg.soundfonts, cfg.sample_rate)
    manifest = {
        "format": FORMAT_VERSION, "config": record, "n": n,
        "soundfonts": [{"name": f.name, "path": f.path, "size_bytes": Path(f.path).stat().st_size,
                        "offset_samples": f.offset_samples} for f in fonts],
        "frame_rate": FRAME_RATE, "families": list(FAMILIES), "versions": versions(),
        "command": [Path(sys.executable).name, "-m", "training.synth", *(sys.argv[1:] if argv is None else argv)],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(manifest, indent=1))
    return fonts
