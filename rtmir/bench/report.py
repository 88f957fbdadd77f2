"""Regenerate ``docs/BENCHMARKS.md`` from the recorded results in ``docs/results/``.

    python -m rtmir.bench.report            # rewrites docs/BENCHMARKS.md

Each benchmark script records its figures under ``docs/results/`` — JSON for the runtime's own
benchmarks (``bench_*.json``, written by ``rtmir bench --json``) and Markdown fragments for the
others (``*.md``: export families, synthesis, pitch evaluation). This module only assembles them
with the machine description; it measures nothing itself. Documents with a ``schema_version``
(docs/BENCH_SCHEMA.md) get their full section (compute, named latencies, end to end, load);
older ones (a bare list of rows, or ``{"meta", "rows"}``) their compute table.
"""
from __future__ import annotations

import argparse
import json
import platform
from datetime import date
from pathlib import Path

from ..sinks.output_path import PartFile, check_output

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"
# fragments in this order first; any other *.md after them, alphabetically
ORDER = ["runtime.md", "bench_live.md", "engine_v2.md", "osc.md", "export_families.md", "synth.md", "pitch_eval.md", "pitch_tcn.md"]


def machine() -> str:
    """One line: CPU model, cores, Python, key package versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    versions = []
    for mod in ("numpy", "onnxruntime", "numba"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, " + ", ".join(versions)


def compute_table(rows: list[dict]) -> str:
    """Markdown table of compute rows (kept for older JSON files)."""
    from .text import compute_table as table

    return table(rows)


def json_section(path: Path) -> str:
    """The Markdown for one ``bench_*.json`` file."""
    from .text import markdown

    data = json.loads(path.read_text())
    name = path.stem.removeprefix("bench_")
    if isinstance(data, dict) and "schema_version" in data:
        return markdown(data, f"rtmir bench: {name}")
    rows = data["rows"] if isinstance(data, dict) else data
    meta = data.get("meta", {}) if isinstance(data, dict) else {}
    head = f"## Compute per hop: {name}\n\n"
    if meta.get("command"):
        head += f"`{meta['command']}` — {meta.get('date', '')} {meta.get('note', '')}\n\n"
    return head + compute_table(rows)


def _as_section(text: str) -> str:
    """Demote a fragment's headings one level if it starts with a page title (``# ``), so every
    fragment is a ``##`` section of BENCHMARKS.md; lines inside code fences are left alone."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first.startswith("# "):
        return text
    out, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(out) + "\n"


def render() -> str:
    """The whole BENCHMARKS.md text."""
    parts = [
        "# Benchmarks\n",
        "Figures measured on this project's 2-core machines and recorded by scripts in the repo; regenerate "
        "this page with `python -m rtmir.bench.report` after re-running them. Sessions have run on more than "
        "one such machine (AMD EPYC and Intel Xeon, 2 cores each): absolute times are rough, ratios measured in "
        f"one run firmer. Page assembled {date.today().isoformat()} on: " + machine() + "; each section names "
        "its command and, where it matters, the machine and the load it was under.\n",
    ]
    for path in sorted(RESULTS.glob("bench_*.json")):
        parts.append(json_section(path))
    names = [n for n in ORDER if (RESULTS / n).exists()]
    names += sorted(p.name for p in RESULTS.glob("*.md") if p.name not in ORDER)
    for name in names:
        parts.append(_as_section((RESULTS / name).read_text()).rstrip() + "\n")
    return "\n".join(parts)



def write_figures(text: str, figures: dict, md: str | None, json_path: str | None) -> None:
    """A bench script's outputs: ``text`` (its BENCHMARKS.md section) on stdout and to ``md``,
    ``figures`` as JSON to ``json_path`` (each when given)."""
    import json
    import sys

    sys.stdout.write(text)
    if md:
        Path(md).write_text(text)
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="Assemble docs/BENCHMARKS.md from docs/results/.")
    parser.add_argument("--out", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    text = render()  # everything read before the output is touched
    out = PartFile(check_output(args.out, "--out"), "w", "--out")
    out.file.write(text)
    out.commit()


if __name__ == "__main__":
    main()
