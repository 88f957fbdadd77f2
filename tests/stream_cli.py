"""Run ``rtmir stream`` on a file exactly as a user does and read back its JSONL rows."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def stream_rows(audio: Path, task: str, model: Path, jsonl: Path, block: int = 1024) -> list[dict]:
    """``rtmir stream AUDIO --task TASK --model MODEL --block BLOCK --jsonl JSONL`` → its rows.

    Raises:
        AssertionError: the command failed (its stderr is the message).
    """
    r = subprocess.run([sys.executable, "-m", "rtmir", "stream", str(audio), "--task", task, "--model", str(model),
                        "--block", str(block), "--jsonl", str(jsonl)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in jsonl.read_text().splitlines()]
