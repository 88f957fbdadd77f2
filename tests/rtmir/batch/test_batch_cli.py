"""``rtmir batch`` as a user runs it: the same events as ``rtmir stream``, Parquet tables that
pyarrow and DuckDB read, resuming by content hash, bad files recorded, nothing half-written."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .batch_lib import make_library, manifest, rtmir, stream_jsonl

TASKS = ["pitch", "notes"]
TASK_ARGS = [a for t in TASKS for a in ("--task", t)]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("lib")
    return root, make_library(root)


@pytest.fixture(scope="module")
def streamed(library, tmp_path_factory) -> dict[str, bytes]:
    """``rtmir stream --jsonl`` of every library file, by result name."""
    root, files = library
    tmp = tmp_path_factory.mktemp("streamed")
    return {f.relative_to(root / "albums").as_posix(): stream_jsonl(f, TASKS, tmp / f"{i}.jsonl")
            for i, f in enumerate(files)}


@pytest.fixture(scope="module")
def batch_out(library, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root, _ = library
    out = tmp_path_factory.mktemp("batch") / "results"
    r = rtmir("batch", root / "albums", *TASK_ARGS, "--out", out, "--workers", 2)
    return out, r


def test_every_file_gets_byte_identical_events_to_rtmir_stream(batch_out, streamed):
    out, r = batch_out
    assert r.returncode == 0, r.stderr
    assert "3 inputs: 3 analysed" in r.stderr and "with 2 workers" in r.stderr
    for name, expected in streamed.items():
        assert (out / "jsonl" / f"{name}.jsonl").read_bytes() == expected, name
    entries = manifest(out)
    assert sorted(e["name"] for e in entries) == sorted(streamed) and {e["status"] for e in entries} == {"done"}
    assert all(len(e["sha256"]) == 64 and e["audio_s"] > 0 for e in entries)


def test_the_parquet_tables_hold_every_event_and_read_with_pyarrow_and_duckdb(batch_out, streamed):
    import duckdb  # a reader nobody here wrote (the dev extra)
    import pyarrow.parquet as pq
    out, _ = batch_out
    events = [json.loads(line) for data in streamed.values() for line in data.decode().splitlines()]
    for node in TASKS:
        table = pq.read_table(out / "parquet" / node).to_pylist()  # the node's whole dataset, recursively
        mine = [e for e in events if e["node"] == node]
        assert len(table) == len(mine) > 0
        key = lambda row: (row["t"], json.dumps({k: row[k] for k in sorted(mine[0]) if k != "t"}))
        assert sorted(map(key, table)) == sorted(map(key, mine))  # same rows, same values, same types
        path_of = {e["name"]: e["file"] for e in manifest(out)}
        with_events = {path_of[name] for name, data in streamed.items() if f'"node": "{node}"'.encode() in data}
        assert {row["file"] for row in table} == with_events
    sql = f"select node, count(*) from read_parquet('{out}/parquet/*/**/*.parquet', union_by_name=true) group by node order by node"
    counts = dict(duckdb.sql(sql).fetchall())
    assert counts == {n: sum(e["node"] == n for e in events) for n in sorted(TASKS)}
    voiced = duckdb.sql(f"select count(*) from read_parquet('{out}/parquet/pitch/**/*.parquet') where voiced").fetchall()[0][0]
    assert voiced == sum(1 for e in events if e["node"] == "pitch" and e["voiced"])


def test_a_rerun_skips_what_is_done_and_a_changed_or_moved_file_is_handled(batch_out, library, tmp_path):
    root, files = library
    out = tmp_path / "results"
    shutil.copytree(batch_out[0], out)
    lib = tmp_path / "lib"
    shutil.copytree(root / "albums", lib)
    r = rtmir("batch", lib, *TASK_ARGS, "--out", out, "--workers", 1, "--no-parquet")
    assert r.returncode == 2 and "other settings" in r.stderr  # --no-parquet is another config
    r = rtmir("batch", lib, *TASK_ARGS, "--out", out, "--workers", 1)
    assert r.returncode == 0, r.stderr
    assert "3 same bytes as one done" in r.stderr  # new paths, same bytes: not analysed again
    r = rtmir("batch", lib, *TASK_ARGS, "--out", out, "--workers", 1)
    assert "0 analysed" in r.stderr and "3 done before" in r.stderr
    import soundfile as sf

    audio, sr = sf.read(lib / "one" / "glide.wav")
    sf.write(lib / "one" / "glide.wav", audio[: sr], sr, subtype="FLOAT")  # changed content
    kept = (out / "jsonl" / "one" / "glide.wav.jsonl").read_bytes()
    r = rtmir("batch", lib, *TASK_ARGS, "--out", out, "--workers", 1)
    assert r.returncode == 2 and "its result name one/glide.wav holds" in r.stderr  # the original still exists
    assert (out / "jsonl" / "one" / "glide.wav.jsonl").read_bytes() == kept
    own = tmp_path / "own"  # a batch of its own: a changed file is analysed again, in place
    assert rtmir("batch", lib, *TASK_ARGS, "--out", own, "--workers", 1).returncode == 0
    sf.write(lib / "one" / "glide.wav", audio[: sr // 2], sr, subtype="FLOAT")
    shutil.copy(files[2], lib / "copy.ogg")  # a new name, the bytes of one done
    r = rtmir("batch", lib, *TASK_ARGS, "--out", own, "--workers", 1)
    assert r.returncode == 0, r.stderr
    assert "1 analysed, 1 same bytes as one done" in r.stderr and "2 done before" in r.stderr
    assert (own / "jsonl" / "one" / "glide.wav.jsonl").read_bytes() == stream_jsonl(
        lib / "one" / "glide.wav", TASKS, tmp_path / "g.jsonl")


def test_a_bad_file_is_recorded_and_never_stops_the_batch(library, tmp_path):
    root, files = library
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(files[2], lib / "good.ogg")
    (lib / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")  # not audio
    (lib / "empty.flac").write_bytes(b"")
    out = tmp_path / "results"
    r = rtmir("batch", lib, "--task", "yin", "--out", out, "--workers", 2)
    assert r.returncode == 2
    assert "1 analysed" in r.stderr and "2 failed" in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("rtmir: ") and (".wav:" in line or ".flac:" in line)]
    assert len(lines) == 2 and all(line.count("\n") == 0 for line in lines)
    status = {Path(e["file"]).name: e for e in manifest(out)}
    assert status["good.ogg"]["status"] == "done" and (out / "jsonl" / "good.ogg.jsonl").stat().st_size > 0
    assert status["bad.wav"]["status"] == "error" and "bad.wav" in status["bad.wav"]["error"]
    assert not (out / "jsonl" / "bad.wav.jsonl").exists()
    r = rtmir("batch", lib, "--task", "yin", "--out", out, "--workers", 2)
    assert r.returncode == 2 and "2 failed in an earlier run" in r.stderr and "0 analysed" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["NOWHERE"], "no such file or folder"),
    (["EMPTY"], "no audio files in this folder"),
    (["GLOB"], "matches no audio file"),
    (["LIB", "--workers", "0"], "--workers must be"),
    (["LIB", "--task", "nosuch"], "nosuch"),
    (["LIB", "--block", "0"], "--block"),
], ids=["missing", "empty-folder", "glob", "workers", "task", "block"])
def test_bad_usage_is_one_line_exit_2_and_writes_nothing(library, tmp_path, args, words):
    root, _ = library
    (tmp_path / "empty").mkdir()
    subst = {"NOWHERE": tmp_path / "nowhere", "EMPTY": tmp_path / "empty", "GLOB": str(tmp_path / "*.wav"),
             "LIB": root / "albums"}
    out = tmp_path / "results"
    r = rtmir("batch", *[subst.get(a, a) for a in args], "--out", out)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


def test_results_are_not_written_through_a_link_inside_out(library, tmp_path):
    root, files = library
    out, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "jsonl").symlink_to(elsewhere)
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(files[2], lib / "a.ogg")
    r = rtmir("batch", lib, "--task", "yin", "--out", out, "--workers", 1)
    assert r.returncode == 2 and "symbolic link" in r.stderr
    assert list(elsewhere.iterdir()) == []


def test_ctrl_c_leaves_whole_results_only_and_a_rerun_resumes(library, tmp_path):
    root, files = library
    lib = tmp_path / "lib"
    lib.mkdir()
    import soundfile as sf

    audio, sr = sf.read(files[0], dtype="float32")
    for i in range(12):  # twelve different files (same bytes would be done once: "same")
        sf.write(lib / f"clip{i:02d}.flac", audio * (1 - 0.02 * i), sr)
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "rtmir", "batch", str(lib), "--task", "pitch", "--task", "tags", "--out", str(out),
           "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _whole_lines(out / "manifest.jsonl"):
        time.sleep(0.05)
    other = rtmir("batch", lib, "--task", "pitch", "--task", "tags", "--out", out, "--workers", 1)
    assert other.returncode == 2 and "another rtmir batch is writing there" in other.stderr  # one batch per OUT
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "run the same command again to resume" in err
    done = {e["name"] for e in manifest(out)}
    assert 0 < len(done) < 12
    assert not [p for p in out.rglob("*.part")]  # nothing half-written left behind
    written = {p.relative_to(out / "jsonl").as_posix()[: -len(".jsonl")] for p in (out / "jsonl").rglob("*.jsonl")}
    assert written <= {f"clip{i:02d}.flac" for i in range(12)}
    for name in written:  # every result there is whole
        expected = stream_jsonl(lib / name, ["pitch", "tags"], tmp_path / "s.jsonl")
        assert (out / "jsonl" / f"{name}.jsonl").read_bytes() == expected, name
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} done before" in r.stderr
    assert {e["name"] for e in manifest(out)} == {f"clip{i:02d}.flac" for i in range(12)}


def _whole_lines(path: Path) -> int:
    """Complete lines in ``path`` so far (0 when it does not exist yet)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_a_worker_killed_mid_file_costs_nothing_but_a_retry(library, tmp_path):
    root, files = library
    import soundfile as sf

    audio, sr = sf.read(files[0], dtype="float32")
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(8):
        sf.write(lib / f"clip{i}.flac", audio * (1 - 0.03 * i), sr)
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "rtmir", "batch", str(lib), "--task", "pitch", "--task", "tags",
                             "--out", str(out), "--workers", "2", "--no-progress"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _whole_lines(out / "manifest.jsonl"):
        time.sleep(0.05)
    workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    victim = next(p for p in workers if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text())
    os.kill(victim, signal.SIGKILL)  # what a segfault in a decoder does to a worker
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "8 inputs: 8 analysed" in err
    entries = manifest(out)
    assert sorted(e["name"] for e in entries) == [f"clip{i}.flac" for i in range(8)]
    assert not list(out.rglob("*.part"))


def test_a_name_another_input_holds_is_refused_and_its_results_kept(library, tmp_path):
    root, files = library
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(files[2], a / "x.ogg")
    shutil.copy(files[1], b / "x.ogg")  # other bytes, the same name below its folder
    out = tmp_path / "results"
    assert rtmir("batch", a, "--task", "yin", "--out", out, "--workers", 1).returncode == 0
    kept = (out / "jsonl" / "x.ogg.jsonl").read_bytes()
    r = rtmir("batch", b, "--task", "yin", "--out", out, "--workers", 1)
    assert r.returncode == 2 and f"holds {a / 'x.ogg'}" in r.stderr
    assert (out / "jsonl" / "x.ogg.jsonl").read_bytes() == kept


def test_a_local_batch_imports_neither_torch_nor_ray(library, tmp_path):
    root, _ = library
    code = ("import sys; from rtmir.cli.main import main; "
            f"rc = main(['batch', {str(root / 'albums' / 'one')!r}, '--task', 'yin', '--out', {str(tmp_path / 'r')!r}, "
            "'--workers', '1', '--no-progress']); "
            "assert rc == 0, rc; bad = {'torch', 'ray'} & set(sys.modules); assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
