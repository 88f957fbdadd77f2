"""The bad-input table: every refused command line exits 2 with one ``rtmir: error:`` line, no
traceback, and leaves the directory exactly as it was (inputs intact, no ``.part`` files).

Each row is ``(id, argv, words in the line)``; ``{d}`` in an argument is the test's directory.
Run in-process (``rtmir.cli.main.main``) so the 60 rows take seconds; a traceback would escape
as an exception and fail the row.
"""
from __future__ import annotations

import hashlib
import os
import socket
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from graphs import delay_line
from rtmir.cli.main import main
from rtmir.zoo import zoo_models

ZOO = str(zoo_models()[0])

CASES = [
    # -- outputs that must never destroy anything ----------------------------------------------
    ("jsonl-is-the-input", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/a.wav"], "is an input of this run"),
    ("jsonl-is-the-input-spelled-otherwise", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/od/../a.wav"],
     "is an input of this run"),
    ("jsonl-is-a-hard-link-to-the-input", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/hard.wav"],
     "is an input of this run"),
    ("jsonl-is-a-symlink", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/link.jsonl"], "is a symbolic link"),
    ("jsonl-is-a-dangling-symlink", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/dangling.jsonl"],
     "is a symbolic link"),
    ("jsonl-is-a-fifo", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/fifo"], "is a FIFO"),
    ("jsonl-is-dev-full", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "/dev/full"], "is a device node"),
    ("jsonl-is-dev-null", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "/dev/null"], "is a device node"),
    ("jsonl-is-dev-stdout", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "/dev/stdout"], "is a symbolic link"),
    ("jsonl-empty", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", ""], "empty path"),
    ("jsonl-is-a-directory", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/od"], "is a directory"),
    ("jsonl-in-a-missing-directory", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/nodir/e.jsonl"],
     "directory does not exist"),
    ("jsonl-in-proc", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "/proc/rtmir.jsonl"], "cannot write"),
    ("jsonl-is-out-dir-events", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/od/events.jsonl",
                                 "--out-dir", "{d}/od"], "would both write"),
    ("out-dir-missing", ["stream", "{d}/a.wav", "--task", "yin", "--out-dir", "{d}/nodir"], "--out-dir does not exist"),
    ("out-dir-is-a-file", ["stream", "{d}/a.wav", "--task", "yin", "--out-dir", "{d}/a.wav"], "not a directory"),
    ("out-dir-audio-is-the-input", ["stream", "{d}/od/audio.wav", "--task", "delay", "--out-dir", "{d}/od"],
     "is an input of this run"),
    ("control-port-taken", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{d}/e.jsonl", "--control-port", "{port}"],
     "cannot listen for OSC control"),
    ("control-port-out-of-range", ["stream", "{d}/a.wav", "--task", "yin", "--control-port", "70000"], "0…65535"),
    ("jsonl-is-the-model", ["stream", "{d}/a.wav", "--task", "model", "--model", "{d}/stereo.onnx",
                            "--jsonl", "{d}/stereo.onnx"], "is an input of this run"),
    ("jsonl-is-the-graph", ["stream", "{d}/a.wav", "--graph", "{d}/ok.toml", "--jsonl", "{d}/ok.toml"],
     "is an input of this run"),
    ("jsonl-is-a-shipped-model", ["stream", "{d}/a.wav", "--task", "yin", "--jsonl", "{zoo}"], "is an input of this run"),
    ("channels-refused-before-any-output", ["stream", "{d}/six.wav", "--task", "model", "--model", "{d}/stereo.onnx",
                                            "--jsonl", "{d}/e.jsonl", "--out-dir", "{d}/od"], "cannot map 6 input channels"),
    ("midi-file-is-the-input", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/a.wav"],
     "is an input of this run"),
    ("midi-file-is-a-symlink", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/link.jsonl"],
     "is a symbolic link"),
    ("midi-file-not-a-midi-name", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/notes.mid.txt"],
     "not a MIDI file name"),
    ("midi-file-and-jsonl-same-file", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/e.mid",
                                       "--jsonl", "{d}/e.mid"], "would both write"),
    ("midi-file-without-a-pitch-node", ["stream", "{d}/a.wav", "--task", "delay", "--midi-file", "{d}/e.mid"],
     "needs a pitch or notes node"),
    ("notes-with-a-tagging-model", ["stream", "{d}/a.wav", "--task", "notes", "--model", "tags-tcn"],
     "is not a notes model"),
    ("midi-channel-17", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/e.mid", "--midi-channel", "17"],
     "--midi-channel must be"),
    ("midi-bend-range-zero", ["stream", "{d}/a.wav", "--task", "yin", "--midi-file", "{d}/e.mid", "--bend-range", "0"],
     "--bend-range must be"),
    ("mpe-without-midi-out", ["stream", "{d}/a.wav", "--task", "yin", "--mpe"], "--mpe is for MIDI out"),
    # -- destinations ----------------------------------------------------------------------------
    ("osc-empty-host", ["stream", "{d}/a.wav", "--task", "yin", "--osc", ":9000"], "give the host"),
    ("osc-no-port", ["stream", "{d}/a.wav", "--task", "yin", "--osc", "localhost"], "bad OSC destination"),
    ("osc-port-zero", ["stream", "{d}/a.wav", "--task", "yin", "--osc", "127.0.0.1:0"], "bad OSC destination"),
    ("osc-unknown-host", ["stream", "{d}/a.wav", "--task", "yin", "--osc", "no-such-host.invalid:9000"], "no-such-host"),
    ("osc-prefix-without-slash", ["stream", "{d}/a.wav", "--task", "yin", "--osc", "127.0.0.1:9", "--osc-prefix", "x"],
     "prefix"),
    # -- numbers ---------------------------------------------------------------------------------
    ("block-zero", ["stream", "{d}/a.wav", "--task", "yin", "--block", "0"], "--block must be"),
    ("block-too-big", ["stream", "{d}/a.wav", "--task", "yin", "--block", "9000"], "--block must be"),
    ("fmin-below-the-model", ["stream", "{d}/a.wav", "--task", "pitch", "--fmin", "10"], "fmin_hz must be in"),
    ("fmin-above-fmax", ["stream", "{d}/a.wav", "--task", "pitch", "--fmin", "500", "--fmax", "400"],
     "--fmin must be below --fmax"),
    ("fmin-for-yin-nan", ["stream", "{d}/a.wav", "--task", "yin", "--fmin", "nan"], "yin needs"),
    ("fmin-with-a-graph", ["stream", "{d}/a.wav", "--graph", "{d}/ok.toml", "--fmin", "100"], "node params"),
    ("fmin-for-a-task-without-pitch", ["stream", "{d}/a.wav", "--task", "delay", "--fmin", "100"],
     "has no pitch range"),
    # -- tasks and models ------------------------------------------------------------------------
    ("task-unknown", ["stream", "{d}/a.wav", "--task", "nope"], "nope"),
    ("task-twice", ["stream", "{d}/a.wav", "--task", "yin", "--task", "yin"], "given twice"),
    ("model-for-a-task-without-one", ["stream", "{d}/a.wav", "--task", "yin", "--model", "pitch-tcn"],
     "--model is for --task"),
    ("model-is-a-directory", ["stream", "{d}/a.wav", "--model", "{d}/od"], "is a directory"),
    ("model-file-missing", ["stream", "{d}/a.wav", "--model", "{d}/none.onnx"], "not found"),
    ("model-name-unknown", ["stream", "{d}/a.wav", "--model", "foo"], "unknown model"),
    ("model-not-onnx", ["stream", "{d}/a.wav", "--task", "model", "--model", "{d}/a.wav"], "a.wav"),
    ("task-model-without-model", ["stream", "{d}/a.wav", "--task", "model"], "needs --model"),
    # -- graphs ----------------------------------------------------------------------------------
    ("graph-and-task", ["stream", "{d}/a.wav", "--graph", "{d}/ok.toml", "--task", "yin"], "not both"),
    ("graph-missing", ["stream", "{d}/a.wav", "--graph", "{d}/none.toml"], "none.toml"),
    ("graph-not-toml", ["stream", "{d}/a.wav", "--graph", "{d}/bad.toml"], "bad.toml"),
    ("graph-cycle", ["stream", "{d}/a.wav", "--graph", "{d}/cycle.toml"], "cycle"),
    ("graph-param-out-of-range", ["stream", "{d}/a.wav", "--graph", "{d}/param.toml"], "threshold"),
    ("graph-command-missing-file", ["graph", "{d}/none.toml"], "none.toml"),
    # -- inputs ----------------------------------------------------------------------------------
    ("input-missing", ["stream", "{d}/none.wav", "--task", "yin"], "none.wav"),
    ("input-not-audio", ["stream", "{d}/notes.txt", "--task", "yin"], "notes.txt"),
    ("input-is-a-directory", ["stream", "{d}/od", "--task", "yin"], "od"),
    ("input-empty-file", ["stream", "{d}/empty.wav", "--task", "yin"], "empty.wav"),
    # -- bench: every option checked before it runs ----------------------------------------------
    ("bench-rate-zero", ["bench", "--task", "yin", "--sample-rate", "0"], "--sample-rate must be"),
    ("bench-rate-negative", ["bench", "--task", "yin", "--sample-rate", "-48000"], "--sample-rate must be"),
    ("bench-json-is-a-directory", ["bench", "--task", "yin", "--json", "{d}/od"], "is a directory"),
    ("bench-json-in-proc", ["bench", "--task", "yin", "--json", "/proc/rtmir.json"], "cannot write"),
    ("bench-seconds-nan", ["bench", "--task", "yin", "--seconds", "nan"], "all finite"),
    ("bench-json-is-the-model", ["bench", "--task", "model", "--model", "{d}/stereo.onnx", "--json", "{d}/stereo.onnx"],
     "is an input of this run"),
    ("bench-json-is-a-symlink", ["bench", "--task", "yin", "--json", "{d}/link.jsonl"], "is a symbolic link"),
    ("bench-json-and-plot-same-file", ["bench", "--task", "yin", "--json", "{d}/b.png", "--plot", "{d}/b.png"],
     "would both write"),
    ("bench-plot-not-png", ["bench", "--task", "yin", "--plot", "{d}/b.txt"], "PNG"),
    ("bench-seconds-zero", ["bench", "--task", "yin", "--seconds", "0"], "--seconds"),
    ("bench-e2e-block-one", ["bench", "--task", "yin", "--e2e-block", "1"], "--e2e-block"),
    ("bench-deadline-negative", ["bench", "--task", "yin", "--deadline-ms", "-1"], "--deadline-ms"),
    ("bench-block-zero", ["bench", "--task", "yin", "--block", "0"], "--block must be"),
    ("bench-task-twice", ["bench", "--task", "yin", "--task", "yin"], "given twice"),
    ("bench-startup-zero-trials", ["bench", "--task", "yin", "--startup", "0"], "--startup must be"),
    ("bench-miss-policy-unknown", ["bench", "--task", "yin", "--miss-policy", "drop"], "--miss-policy"),
    # -- live: refused before a device is opened -------------------------------------------------
    ("live-channels-zero", ["live", "--no-display", "--channels", "0"], "--in-channels"),
    ("live-in-channels-100", ["live", "--no-display", "--in-channels", "100"], "--in-channels"),
    ("live-out-channels-zero", ["live", "--no-display", "--out-channels", "0"], "--out-channels"),
    ("live-rate-zero", ["live", "--no-display", "--sample-rate", "0"], "--sample-rate must be"),
    ("live-seconds-negative", ["live", "--no-display", "--seconds", "-1"], "--seconds must be positive"),
    ("live-midi-connect-without-midi", ["live", "--no-display", "--task", "yin", "--midi-file", "{d}/e.mid",
                                        "--midi-connect", "synth:in"], "--midi-connect is for a JACK MIDI port"),
    ("live-deadline-under-a-block", ["live", "--no-display", "--deadline-ms", "0.5"], "under one block"),
    ("live-deadline-nan", ["live", "--no-display", "--deadline-ms", "nan"], "under one block"),
    ("live-miss-policy-unknown", ["live", "--no-display", "--miss-policy", "drop"], "--miss-policy"),
    ("live-midi-not-jack", ["live", "--no-display", "--task", "yin", "--midi", "alsa:x"], "use jack:NAME"),
    ("live-midi-without-a-pitch-node", ["live", "--no-display", "--task", "delay", "--midi", "jack:x",
                                        "--jsonl", "{d}/live.jsonl"], "needs a pitch or notes node"),
    ("live-jsonl-is-a-directory", ["live", "--no-display", "--jsonl", "{d}/od"], "is a directory"),
    ("live-unknown-device-leaves-no-file", ["live", "--no-display", "--device", "no such device",
                                            "--jsonl", "{d}/live.jsonl"], "no audio input device"),
]


def _fixtures(d: Path) -> None:
    sr = 16000
    sine = (0.5 * np.sin(2 * np.pi * 220 * np.arange(sr // 2) / sr)).astype(np.float32)
    sf.write(d / "a.wav", sine, sr)
    (d / "od").mkdir()
    sf.write(d / "od" / "audio.wav", sine, sr)
    os.link(d / "a.wav", d / "hard.wav")
    (d / "link.jsonl").symlink_to(d / "a.wav")
    (d / "dangling.jsonl").symlink_to(d / "nowhere.jsonl")
    os.mkfifo(d / "fifo")
    (d / "notes.txt").write_text("not audio\n")
    sf.write(d / "six.wav", np.zeros((sr // 4, 6), np.float32), sr)
    delay_line(d / "stereo.onnx", delay=4, hop=1, sample_rate=sr, channels=2)
    (d / "empty.wav").write_bytes(b"")
    (d / "ok.toml").write_text('edges = ["input -> y"]\n[nodes.y]\ntask = "yin"\n')
    (d / "bad.toml").write_text("[nodes.y\ntask = yin\n")
    (d / "cycle.toml").write_text('edges = ["a -> b", "b -> a"]\n[nodes.a]\ntask = "delay"\n'
                                  '[nodes.b]\ntask = "delay"\n')
    (d / "param.toml").write_text('[nodes.y]\ntask = "yin"\nparams = { threshold = 1e9 }\n')


def _snapshot(d: Path) -> dict:
    """Every entry under ``d``: its kind, and a hash of regular files' contents."""
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = Path(root) / name
            st = os.lstat(p)
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(d))] = (stat.S_IFMT(st.st_mode), digest)
    return out


@pytest.fixture()
def taken_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.mark.parametrize("argv, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_leaves_everything_as_it_was(tmp_path, capsys, taken_port, argv, words):
    _fixtures(tmp_path)
    before = _snapshot(tmp_path)
    args = [a.format(d=tmp_path, port=taken_port, zoo=ZOO) for a in argv]
    zoo_before = Path(ZOO).read_bytes()
    code = main(args)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("rtmir: error: "), err
    assert words in lines[0], lines[0]
    assert "Traceback" not in err + out and out == ""
    assert _snapshot(tmp_path) == before  # inputs intact, nothing new, no .part left
    assert Path(ZOO).read_bytes() == zoo_before and not Path(ZOO + ".part").exists()


def test_the_table_has_at_least_40_distinct_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


def table() -> str:
    """The table for docs/results/reliability.md: case, exit code, the line (``{d}`` = the directory).

        python tests/rtmir/test_bad_input.py > /tmp/table.md
    """
    import contextlib
    import io
    import tempfile

    rows = ["| case | exit | the line |", "|---|---|---|"]
    for name, argv, _ in CASES:
        with tempfile.TemporaryDirectory() as tmp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            d = Path(tmp)
            _fixtures(d)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main([a.format(d=d, port=taken.getsockname()[1], zoo=ZOO) for a in argv])
            line = err.getvalue().strip().replace(str(d), "{d}").replace(ZOO, "{zoo}").replace("|", "\\|")
        rows.append(f"| `{name}` | {code} | {line} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]
    print(table())
