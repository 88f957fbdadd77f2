"""``python -m training.synth``: refuses bad input with one line on stderr and exit code 2;
builds, resumes, and refuses to mix two configs in one folder."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.synth", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


CASES = {
    "unknown-kind": (["--kind", "poly", "--split", "train", "--n", "1"], ["--kind", "poly"]),
    "unknown-split": (["--kind", "mono", "--split", "test", "--n", "1"], ["--split"]),
    "missing-soundfont-name": (["--kind", "mono", "--split", "train", "--n", "1", "--soundfont", "NoSuchFont"],
                               ["NoSuchFont", "not found"]),
    "missing-soundfont-path": (["--kind", "mono", "--split", "val", "--n", "1", "--soundfont", "/nonexistent/gm.sf2"],
                               ["/nonexistent/gm.sf2", "not found"]),
    "bad-rate": (["--kind", "mono", "--split", "train", "--n", "1", "--sample-rate", "22050"], ["--sample-rate"]),
    "missing-n": (["--kind", "mono", "--split", "train"], ["--n"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_refuses_bad_input(tmp_path, case):
    args, words = CASES[case]
    proc = run(*args, "--out", str(tmp_path / "out"))
    assert_refused(proc, *words)
    assert not (tmp_path / "out").exists()


def test_refuses_unwritable_output(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run("--kind", "mono", "--split", "train", "--n", "1", "--out", str(blocker / "out"))
    assert_refused(proc, "cannot write", str(blocker / "out"))


@pytest.mark.fluidsynth
def test_builds_resumes_and_refuses_other_config(tmp_path):
    out = tmp_path / "ds"
    common = ["--kind", "mono", "--split", "train", "--soundfont", "TimGM6mb", "--duration", "1.5",
              "--workers", "1", "--out", str(out)]
    assert run(*common, "--n", "2").returncode == 0
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("00000*/meta.json")}
    assert sorted(p.parent.name for p in out.glob("*/meta.json")) == ["000000", "000001"]
    proc = run(*common, "--n", "3", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "2 of 3 examples already complete" in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("00000[01]/meta.json")} == first
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 3 and manifest["config"]["soundfonts"] == ["TimGM6mb"]
    assert manifest["versions"]["fluidsynth"] and manifest["soundfonts"][0]["offset_samples"] > 0
    assert_refused(run(*common, "--n", "3", "--seed", "9"), "other settings", "seed")


def test_cli_and_builder_do_not_import_torch():
    code = ("import sys, training.synth.__main__, training.synth.build, training.synth.bench; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
