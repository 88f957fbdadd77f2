"""Output paths: the one place that decides where rtmir may write, and writes there safely.

Every file rtmir writes (``--jsonl``, ``--out-dir`` audio and events, ``bench --json/--plot``)
goes through ``OutputPlan.claim`` before any work starts, then through ``PartFile``:

- refused, with one line (``OutputError``): an empty path; an existing directory; a symbolic
  link, FIFO, socket or device node at the path (rtmir never follows or replaces one: name the
  real file); a path that is one of the run's inputs (same file, however spelled); two outputs
  of one run on the same path; a missing or unwritable directory; a directory where the file
  cannot be created (``/proc``, a read-only mount) — found by creating the ``.part`` file then;
- ``-`` means standard output (only where the option says so: ``--jsonl -``);
- written to ``NAME.part`` beside the target (created without following links), renamed onto
  the target by ``commit`` and deleted by ``discard``: a finished output is whole, a failed run
  leaves nothing, and a run stopped mid-stream (Ctrl-C, SIGTERM, lost device) still commits.
"""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

#: the path that means standard output
STDOUT = "-"


class OutputError(ValueError):
    """An output cannot be written where it was asked to go (one line, exit 2)."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_output(path: str | os.PathLike, option: str, inputs=(), allow_stdout: bool = False) -> Path | None:
    """The checked target ``Path`` for ``option``'s value, or None for ``-`` (standard output).

    Raises:
        OutputError: see the module docstring (the reason, naming the option and the path).
    """
    text = os.fspath(path)
    if text == "":
        raise OutputError(f"{option}: empty path")
    if text == STDOUT:
        if allow_stdout:
            return None
        raise OutputError(f"{option}: '-' (standard output) is not possible here; give a file name")
    p = Path(text)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{option}: cannot use {p}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(f"{option}: {p} is a symbolic link; rtmir does not write through links "
                              f"(give the real path: {os.path.realpath(p)})")
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{option}: {p} is a directory; give a file name inside it")
        if not stat.S_ISREG(st.st_mode):
            kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device node"
            hint = " (use '-' for standard output)" if allow_stdout else ""
            raise OutputError(f"{option}: {p} is a {kind}, not a regular file; rtmir does not replace it{hint}")
        for i in inputs:
            if _same_file(p, Path(i)):
                raise OutputError(f"{option}: {p} is an input of this run; writing it would destroy it")
    parent = p.parent
    if not parent.is_dir():
        raise OutputError(f"{option}: directory does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{option}: directory is not writable: {parent}")
    return p


class OutputPlan:
    """The outputs of one run, claimed before any work: no two on one path, none on an input."""

    def __init__(self, inputs=()) -> None:
        self.inputs = tuple(Path(i) for i in inputs)
        self._claimed: dict[str, str] = {}  # absolute path → option

    def claim(self, path, option: str, allow_stdout: bool = False) -> Path | None:
        """``check_output`` plus: refused if another output of this run already claimed it."""
        p = check_output(path, option, self.inputs, allow_stdout)
        key = STDOUT if p is None else os.path.join(os.path.realpath(p.parent), p.name)  # links to one directory
        if key in self._claimed:
            where = "standard output" if p is None else str(p)
            raise OutputError(f"{option} and {self._claimed[key]} would both write {where}")
        self._claimed[key] = option
        return p


class PartFile:
    """An output being written: ``NAME.part`` now, ``NAME`` after ``commit()``; or stdout.

    Args:
        path: a target from ``check_output``/``OutputPlan.claim`` (None: standard output,
            text mode only).
        mode: ``"w"`` (text) or ``"wb"``.
        option: named in errors.

    Raises:
        OutputError: the ``.part`` file cannot be created (e.g. ``/proc``, read-only, a link
            planted at ``NAME.part``).
    """

    def __init__(self, path: Path | None, mode: str, option: str = "output") -> None:
        self.path = path
        self.committed = False
        if path is None:
            if "b" in mode:
                raise OutputError(f"{option}: standard output is for text")
            self.part = None
            self.file = sys.stdout
            return
        self.part = path.with_name(path.name + ".part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.part, flags, 0o666)
        except OSError as exc:
            raise OutputError(f"{option}: cannot write {path}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device planted at NAME.part
            os.close(fd)
            raise OutputError(f"{option}: {self.part} exists and is not a regular file")
        self.file = os.fdopen(fd, mode)

    def commit(self) -> None:
        """Flush, close and move the finished file into place (idempotent).

        Raises:
            OutputError: it could not be finished (disk full, I/O error): the ``.part`` is removed.
        """
        if self.committed:
            return
        if self.part is None:
            self.committed = True
            try:
                self.file.flush()
            except BrokenPipeError:  # the reader left (`| head`): nothing to keep
                pass
            return
        try:
            if not self.file.closed:
                self.file.close()
            os.replace(self.part, self.path)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot finish {self.path}: {exc.strerror or exc}") from None
        self.committed = True

    def discard(self) -> None:
        """Close and delete the unfinished file (idempotent; after ``commit`` nothing happens)."""
        if self.committed:
            return
        self.committed = True
        if self.part is None:
            return
        try:
            if not self.file.closed:
                self.file.close()
        except OSError:  # a failed flush: the file goes anyway
            pass
        self.part.unlink(missing_ok=True)
