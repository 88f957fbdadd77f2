"""Where a result came from: git commit, date, machine, versions, the command (no torch needed)."""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def git_commit(cwd: Path = REPO) -> str:
    """``git rev-parse HEAD`` of the checkout, or ``"unknown"``."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=cwd).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def git_dirty(cwd: Path = REPO) -> bool:
    """Whether the checkout has uncommitted changes (False when git is unavailable)."""
    try:
        return bool(subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10,
                                   cwd=cwd).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return False


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """Installed version of each distribution (None where absent)."""
    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None
    return {name: ver(name) for name in names}


def machine() -> dict[str, Any]:
    """Platform, CPU model, logical CPUs, Python, load average."""
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if cpuinfo.exists() else ""
    return {"platform": platform.platform(), "cpu": cpu, "logical_cpus": os.cpu_count(),
            "python": platform.python_version(), "load_average_1_5_15": list(os.getloadavg())}


def training_record(command: str, data: str, seed: int, config: Any, **extra: Any) -> dict[str, Any]:
    """The start of a run's training record (the card's ``training``): command, data recipe,
    seed, git commit, the whole config as plain JSON data, and any ``extra`` fields."""
    plain = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    return {"command": command, "data": data, "seed": seed, "git_commit": git_commit(),
            "config": json.loads(json.dumps(plain)), **extra}


def dataset_record(root: str | Path) -> dict[str, Any]:
    """What a ``training.synth`` folder is, from its ``manifest.json`` and first example: the
    command that rendered it, examples, soundfonts and the label convention (``{"name": "midi"}``
    for folders from before conventions were recorded). Empty when ``root`` has no manifest."""
    root = Path(root)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    first = next(iter(sorted(p for p in root.glob("[0-9]*/meta.json"))), None)
    meta = json.loads(first.read_text()) if first is not None else {}
    return {"command": " ".join(manifest.get("command", [])), "n": manifest.get("n"),
            "soundfonts": [s.get("name") for s in manifest.get("soundfonts", [])],
            "label_convention": meta.get("label_convention", {"name": "midi"})}
