"""CPU cost of an exported model as users run it: ``rtmir stream`` in a child process (no torch).

``stream_cpu`` times ``rtmir stream FILE --task TASK --model MODEL --block N`` on a long and a
short file and reports CPU seconds (user + system of the child) per second of audio, with the
start-up cost (imports, session, warm-up: the short file's run) subtracted. Best of ``runs``,
because the machine is shared.
"""
from __future__ import annotations

import resource
import subprocess
import sys


def child_cpu_seconds(cmd: list[str]) -> float:
    """User + system CPU seconds of one child process run to completion.

    Raises:
        subprocess.CalledProcessError: the child failed.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stream_command(model: str, task: str, audio_file: str, block: int) -> list[str]:
    """The ``rtmir stream`` command line timed for one file."""
    return [sys.executable, "-m", "rtmir", "stream", audio_file, "--task", task, "--model", model, "--block", str(block)]


def stream_cpu(model: str, long_file: str, short_file: str, task: str, block: int = 1024, runs: int = 3
               ) -> dict[str, float]:
    """CPU seconds per second of audio of ``rtmir stream --task TASK`` on ``long_file``.

    Returns:
        ``audio_s``, ``cpu_s_total``, ``cpu_s_startup``, ``cpu_s_per_audio_s`` (start-up
        excluded) and ``cpu_s_per_audio_s_with_startup``.
    """
    import soundfile as sf

    long_s, short_s = sf.info(long_file).duration, sf.info(short_file).duration
    total = min(child_cpu_seconds(stream_command(model, task, long_file, block)) for _ in range(runs))
    start = min(child_cpu_seconds(stream_command(model, task, short_file, block)) for _ in range(runs))
    return {"audio_s": long_s, "cpu_s_total": total, "cpu_s_startup": start,
            "cpu_s_per_audio_s": (total - start) / (long_s - short_s), "cpu_s_per_audio_s_with_startup": total / long_s}
