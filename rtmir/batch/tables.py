"""Events → one Parquet table per node: a row per event, the columns ``file``, ``node``,
``task``, ``t`` (seconds, as in the JSONL) and the event's fields, nested dicts flattened with
dots (``tags.piano``). Column types follow the values: bool, int64, float64 (ints and floats
mixed in one field: float64), string, lists; a field an event lacks is null. Needs ``pyarrow``
(the ``batch`` extra)."""
from __future__ import annotations

from pathlib import Path

from ..core.processor import Event
from ..sinks.output_path import OutputError, PartFile, check_output

FIXED = ("file", "node", "task", "t")


def have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class TableSink:
    """An engine sink collecting every event's row by node (``rows``; ``write`` makes the files).

    Args:
        file: the input's path, the ``file`` column of every row.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.columns: dict[str, dict[str, list]] = {}  # node -> column -> values
        self.rows: dict[str, int] = {}

    def send(self, events: list[Event]) -> None:
        for event in events:
            row = event.as_json()
            node = row["node"]
            cols = self.columns.get(node)
            if cols is None:
                cols = self.columns[node] = {"file": [], "node": [], "task": [], "t": []}
                self.rows[node] = 0
            n = self.rows[node]
            cols["file"].append(self.file)
            for key, value in _flat(row).items():
                col = cols.get(key)
                if col is None:
                    col = cols[key] = [None] * n
                col.append(value)
            self.rows[node] = n = n + 1
            for col in cols.values():
                if len(col) < n:
                    col.append(None)

    def status(self, stats: dict) -> None:
        """Not events: nothing to do."""

    def close(self) -> None:
        """Nothing open: ``write`` writes."""

    def table(self, node: str):
        """The node's rows as a ``pyarrow.Table``."""
        import pyarrow as pa

        arrays = {}
        for name, values in self.columns[node].items():
            if any(isinstance(v, float) for v in values) and all(
                    v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
                values = [None if v is None else float(v) for v in values]
            arrays[name] = pa.array(values)
        return pa.table(arrays)

    def write(self, targets: dict[str, Path]) -> list[Path]:
        """Write each node's table to ``targets[node]`` (``.part``, then renamed); returns the
        files written (nodes without events have none).

        Raises:
            OutputError: a target is refused or cannot be written (the parts made are removed).
        """
        import pyarrow.parquet as pq

        parts = []
        try:
            for node in self.columns:
                option = f"--out (parquet/{node})"
                part = PartFile(check_output(targets[node], option), "wb", option)
                parts.append(part)
                pq.write_table(self.table(node), part.file, compression="zstd")
        except BaseException as exc:
            for p in parts:
                p.discard()
            if isinstance(exc, OSError):
                raise OutputError(f"--out: cannot write Parquet: {exc}") from None
            raise
        for p in parts:
            p.commit()
        return [p.path for p in parts]
