"""Soundfonts by name: where each is installed, and which split uses which.

Training renders with FluidR3_GM and TimGM6mb; validation (and every reported figure) with
MuseScore_General, so a model is always evaluated on instruments it has not heard. Nothing is
downloaded: the Debian packages ``fluid-soundfont-gm``, ``timgm6mb-soundfont`` and
``musescore-general-soundfont`` install them.
"""
from __future__ import annotations

import os
from pathlib import Path

SEARCH_DIRS: tuple[str, ...] = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                                "/usr/local/share/soundfonts")
"""Folders searched for a soundfont given by name (after ``$RTMIR_SOUNDFONT_DIR``)."""

FILE_NAMES: dict[str, tuple[str, ...]] = {
    "FluidR3_GM": ("FluidR3_GM.sf2", "FluidR3_GM.sf3"),
    "TimGM6mb": ("TimGM6mb.sf2",),
    "MuseScore_General": ("MuseScore_General.sf3", "MuseScore_General.sf2",
                          "MuseScore_General_Full.sf3", "MuseScore_General_HQ.sf3"),
}
"""Soundfont name -> file names it may be installed as, in order of preference."""

PACKAGES = {"FluidR3_GM": "fluid-soundfont-gm", "TimGM6mb": "timgm6mb-soundfont",
            "MuseScore_General": "musescore-general-soundfont"}
"""Debian package that installs each soundfont."""

SPLITS: dict[str, tuple[str, ...]] = {"train": ("FluidR3_GM", "TimGM6mb"), "val": ("MuseScore_General",)}
"""Soundfonts of each split."""


class SoundfontError(FileNotFoundError):
    """A soundfont is not installed (or a path does not exist)."""


def resolve_soundfont(name_or_path: str) -> Path:
    """Path of a soundfont given by name ("FluidR3_GM", "TimGM6mb", "MuseScore_General") or path.

    Raises:
        SoundfontError: not found; the message names the package to install.
    """
    if name_or_path not in FILE_NAMES:
        path = Path(name_or_path)
        if path.is_file():
            return path.resolve()
        known = ", ".join(FILE_NAMES)
        raise SoundfontError(f"soundfont {name_or_path!r} not found: give an existing .sf2/.sf3 path or one of {known}")
    dirs = ([os.environ["RTMIR_SOUNDFONT_DIR"]] if os.environ.get("RTMIR_SOUNDFONT_DIR") else []) + list(SEARCH_DIRS)
    for folder in dirs:
        for file_name in FILE_NAMES[name_or_path]:
            path = Path(folder) / file_name
            if path.is_file():
                return path.resolve()
    raise SoundfontError(f"soundfont {name_or_path} not found in {', '.join(dirs)}: "
                         f"install it (apt-get install {PACKAGES[name_or_path]}) or set RTMIR_SOUNDFONT_DIR")


def soundfont_name(name_or_path: str) -> str:
    """The short name of a soundfont (its name if known, else its file stem)."""
    return name_or_path if name_or_path in FILE_NAMES else Path(name_or_path).stem
