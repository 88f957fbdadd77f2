"""The bench JSON schema is stable and documented; the plot is a real PNG; the CLI says errors in a line."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rtmir.bench import run as bench_run
from rtmir.bench.plot import write_plot
from rtmir.bench.run import BenchConfig, check_schema, run_bench
from rtmir.cli.main import main
from rtmir.tasks.yin import YinProcessor

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DOC = ROOT / "docs" / "BENCH_SCHEMA.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def doc():
    return run_bench(lambda: [YinProcessor()], BenchConfig(blocks=(64, 256), seconds=1.0, command="test"))


def test_document_has_every_key_of_schema_1(doc):
    assert doc["schema_version"] == 1 == bench_run.SCHEMA_VERSION
    assert check_schema(doc) == []
    assert [(r["processor"], r["block"]) for r in doc["rows"]] == [("yin", 64), ("engine", 64), ("yin", 256), ("engine", 256)]
    assert [(r["processor"], r["block"]) for r in doc["latency"]] == [("yin", 64), ("yin", 256)]
    assert len(doc["histograms"]["edges_us"]) == len(doc["histograms"]["rows"][0]["counts"]) + 1
    for r, h in zip(doc["rows"], doc["histograms"]["rows"]):
        assert sum(h["counts"]) == r["hops"] > 0
    json.dumps(doc)  # plain JSON types only


def test_check_schema_names_what_is_missing(doc):
    broken = json.loads(json.dumps(doc))
    del broken["rows"][1]["p99_us"], broken["meta"]["command"]
    broken["e2e"] = {"server": "x"}
    missing = check_schema(broken)
    assert "rows[1].p99_us" in missing and "meta.command" in missing and "e2e.baseline" in missing


def test_schema_document_lists_every_key():
    text = SCHEMA_DOC.read_text()
    assert re.search(rf"schema_version.*\b{bench_run.SCHEMA_VERSION}\b", text)
    keys = (bench_run.TOP_KEYS + bench_run.META_KEYS + bench_run.ROW_KEYS + bench_run.LATENCY_KEYS
            + bench_run.E2E_KEYS + bench_run.LOAD_KEYS)
    undocumented = [k for k in keys if f"`{k}`" not in text]
    assert not undocumented, f"docs/BENCH_SCHEMA.md does not document {undocumented}"


def test_plot_is_a_png_matplotlib_reads(doc, tmp_path):
    import matplotlib.image

    path = tmp_path / "bench.png"
    write_plot(doc, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 400 and image.shape[1] > 600 and image.std() > 0.05  # not blank


def test_cli_writes_json_and_plot(tmp_path, capsys):
    out_json, out_png = tmp_path / "b.json", tmp_path / "b.png"
    code = main(["bench", "--task", "yin", "--block", "128", "--seconds", "1", "--json", str(out_json), "--plot", str(out_png)])
    assert code == 0
    doc = json.loads(out_json.read_text())
    assert check_schema(doc) == [] and doc["meta"]["command"].startswith("rtmir ")
    assert out_png.read_bytes()[:8] == PNG_SIGNATURE
    assert "| yin | 128 | 48000 | 480 |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--miss-policy", "later"], "--miss-policy: unknown policy 'later'"),
    (["--miss-policy", "pitch=hold"], "miss policy given for ['pitch']"),
    (["--plot", "x.jpg"], "--plot writes PNG"),
    (["--json", "/no/such/dir/b.json"], "--json: directory does not exist"),
    (["--deadline-ms", "0"], "--deadline-ms must be positive"),
    (["--block", "0"], "--block must be 1…8192"),
], ids=["bad-policy", "policy-for-absent-task", "plot-not-png", "json-dir", "deadline", "block"])
def test_cli_errors_are_one_line_exit_2(argv, message, capsys):
    assert main(["bench", "--task", "yin", "--seconds", "1", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
