"""Child process for the device-loss test: stream JACK input into a JSONL file until told to stop.

    python live_child.py EVENTS.jsonl READY_FILE

Writes READY_FILE once events flow. On SIGINT, SIGTERM or SIGHUP the run ends normally: the summary is
printed as JSON on stdout, exit 0. On ``DeviceLostError`` prints one ``rtmir: error: ...`` line
on stderr and exits 3 through a *normal* interpreter exit (what the CLI will do), so a hang at
exit would show up as a timeout in the test.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

# repo root first (a tests/rtmir namespace dir must not shadow the rtmir package), then tests/
sys.path[:0] = [str(Path(__file__).resolve().parents[3]), str(Path(__file__).resolve().parents[2])]

from jack_tools import RmsProcessor  # noqa: E402
from rtmir.core.engine import Engine  # noqa: E402
from rtmir.hosts.live_host import DeviceLostError, LiveHost  # noqa: E402
from rtmir.sinks.files import JsonlSink  # noqa: E402


def main(events_path: str, ready_path: str) -> int:
    logging.basicConfig(level=logging.WARNING)
    sink = JsonlSink(events_path)
    engine = Engine([RmsProcessor()], [sink])
    host = LiveHost(block=128, output=True, watchdog_seconds=1.0)
    ready = Path(ready_path)

    def stop() -> bool:
        if not ready.exists() and engine.stats.events >= 50:
            ready.write_text(str(time.time()))
        return False

    try:
        summary = host.run(engine, stop=stop)
    except DeviceLostError as exc:
        print(f"rtmir: error: {exc}", file=sys.stderr)
        return 3
    finally:
        engine.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
