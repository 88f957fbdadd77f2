"""``OUT/batch.json`` (what made the results) and ``OUT/manifest.jsonl`` (what is done).

The manifest is append-only, one JSON object per line, synced per line: a run killed mid-line
leaves a line that does not parse, which is ignored (that input is done again; the next run
starts its first line on a new line). It is locked while a batch runs: one batch per ``OUT``.
A result name belongs to the input whose results it holds (the last done under it).
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

from ..sinks.output_path import OutputError, PartFile, check_output

CONFIG_FILE = "batch.json"
MANIFEST_FILE = "manifest.jsonl"
#: statuses of a manifest entry: analysed; same bytes as an entry already done; failed
STATUSES = ("done", "same", "error")


class ConfigMismatch(ValueError):
    """``OUT`` holds results made with other settings (one line, exit 2)."""


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """The hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def open_config(out: Path, record: dict) -> None:
    """Write ``OUT/batch.json`` (first run), or check that it holds ``record``.

    Raises:
        ConfigMismatch: it holds another config (names the first field that differs).
        OutputError: it cannot be written or read.
    """
    path = out / CONFIG_FILE
    if path.is_file():
        try:
            held = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise OutputError(f"--out: cannot read {path}: {exc}") from None
        if held != json.loads(json.dumps(record)):
            differs = next((k for k in sorted(set(held) | set(record)) if held.get(k) != record.get(k)), "?")
            raise ConfigMismatch(f"--out {out} holds results made with other settings ({differs}: "
                                 f"{held.get(differs)!r} there, {record.get(differs)!r} now): use another --out")
        return
    part = PartFile(check_output(path, "--out (batch.json)"), "w", "--out (batch.json)")
    try:
        part.file.write(json.dumps(record, indent=1) + "\n")
    except BaseException:
        part.discard()
        raise
    part.commit()


def read_manifest(out: Path) -> list[dict]:
    """The manifest's entries in order (lines that do not parse are skipped)."""
    path = out / MANIFEST_FILE
    if not path.is_file():
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("status") in STATUSES:
                entries.append(entry)
    return entries


class Manifest:
    """The manifest of ``OUT``: what is known (by path, size and mtime; by content hash) and
    an appender for new entries."""

    def __init__(self, out: Path) -> None:
        self.path = check_output(out / MANIFEST_FILE, "--out (manifest.jsonl)")
        self.by_stat: dict[tuple[str, int, int], dict] = {}
        self.done: dict[str, dict] = {}  # sha256 -> the entry whose outputs hold its results
        self._sha_of_name: dict[str, str] = {}  # result name -> the sha256 its outputs hold
        self.owner: dict[str, tuple[str, str]] = {}  # result name -> (input, sha256) of its results
        for entry in read_manifest(out):
            self._learn(entry)
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise OutputError(f"--out: cannot write {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until close: one batch per OUT
        except OSError:
            os.close(self._fd)
            raise OutputError(f"--out {out}: another rtmir batch is writing there; wait for it or use another --out") \
                from None
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            self._write(b"\n")  # a line a killed run left unfinished: the next entry starts on its own line

    def _learn(self, entry: dict) -> None:
        self.by_stat[(entry["file"], entry.get("size"), entry.get("mtime_ns"))] = entry
        if entry["status"] == "done":
            self.owner[entry["name"]] = (entry["file"], entry["sha256"])
            old = self._sha_of_name.get(entry["name"])
            if old is not None and old != entry["sha256"] and self.done.get(old, {}).get("name") == entry["name"]:
                del self.done[old]  # that name's results now hold other bytes
            self._sha_of_name[entry["name"]] = entry["sha256"]
            self.done[entry["sha256"]] = entry

    def known_results(self) -> dict:
        """What the workers need to know of ``OUT`` (``worker.Analyser``'s ``known``)."""
        return {"done": dict(self.done), "names": dict(self.owner)}

    def known(self, path: str, size: int, mtime_ns: int) -> dict | None:
        """The entry of this exact file (same path, size and mtime), or None."""
        return self.by_stat.get((path, size, mtime_ns))

    def append(self, entry: dict) -> None:
        """Record ``entry`` (one line, synced)."""
        self._write((json.dumps(entry) + "\n").encode())
        os.fsync(self._fd)
        self._learn(entry)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        os.close(self._fd)
