"""What ``rtmir batch`` analyses: files, folders (searched recursively) and glob patterns."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path


class BatchInputError(ValueError):
    """An input argument names nothing to analyse (one line, exit 2)."""


#: extensions a folder or glob is searched for (libsndfile reads them; others can be named
#: one by one)
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".aifc", ".mp3",
                              ".w64", ".rf64", ".caf", ".au", ".snd"})


@dataclass(frozen=True)
class Job:
    """One input of a batch.

    Attributes:
        path: the input's absolute, resolved path.
        name: its result name: the path relative to the batch's common folder (``/``-separated).
        size: bytes, and mtime_ns: modification time, as ``os.stat`` gives them when listed.
    """

    path: str
    name: str
    size: int
    mtime_ns: int


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def _walk(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (links to files followed, links to folders not: no cycles)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if _is_audio(Path(f))]
    return found


def expand(arguments: list[str]) -> list[Path]:
    """Every file the arguments name, resolved, each once, in a stable order: a file as given
    (any extension: libsndfile decides), a folder's audio files (recursively), a glob's matches
    (``**`` recursive; folders it matches are searched too).

    Raises:
        BatchInputError: an argument matches nothing, or a folder holds no audio file.
    """
    seen: dict[str, Path] = {}
    for arg in arguments:
        if arg == "":
            raise BatchInputError("an input is empty: give files, folders or glob patterns")
        p = Path(arg).expanduser()
        if p.is_dir():
            found = _walk(p)
            if not found:
                raise BatchInputError(f"{arg}: no audio files in this folder ({', '.join(sorted(AUDIO_EXTENSIONS))})")
        elif p.exists():
            found = [p]
        elif glob.has_magic(arg):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(arg), recursive=True))]
            found = [f for m in matches for f in (_walk(m) if m.is_dir() else [m] if _is_audio(m) else [])]
            if not found:
                raise BatchInputError(f"{arg}: the pattern matches no audio file")
        else:
            raise BatchInputError(f"{arg}: no such file or folder")
        for f in found:
            real = os.path.realpath(f)
            if os.path.isfile(real):
                seen.setdefault(real, Path(real))
    if not seen:
        raise BatchInputError("nothing to analyse: the inputs name no regular file")
    return sorted(seen.values())


def jobs_of(files: list[Path]) -> list[Job]:
    """The jobs of resolved ``files``, named relative to the deepest folder holding them all."""
    root = os.path.commonpath([str(f.parent) for f in files])
    jobs = []
    for f in files:
        st = f.stat()
        jobs.append(Job(str(f), Path(os.path.relpath(f, root)).as_posix(), st.st_size, st.st_mtime_ns))
    return jobs
