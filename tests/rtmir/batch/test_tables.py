"""Events → Parquet rows: one table per node, fields flattened, types from the values."""
from __future__ import annotations

import pyarrow.parquet as pq  # the batch extra, in the dev extra

from rtmir.batch.tables import TableSink
from rtmir.core.processor import Event


def test_rows_by_node_with_flattened_fields_promoted_numbers_and_nulls(tmp_path):
    sink = TableSink("/music/a.flac")
    sink.send([Event("pitch", 0.0, {"f0_hz": 220, "voiced": True}, node="p"),
               Event("tags", 0.01, {"tags": {"piano": 0.5, "bass": 0.25}}, node="t"),
               Event("pitch", 0.02, {"f0_hz": 220.5, "voiced": False, "extra": "x"}, node="p")])
    written = sink.write({"p": tmp_path / "p.parquet", "t": tmp_path / "t.parquet"})
    assert sorted(p.name for p in written) == ["p.parquet", "t.parquet"]
    p = pq.read_table(tmp_path / "p.parquet")
    assert p.column_names == ["file", "node", "task", "t", "f0_hz", "voiced", "extra"]
    assert str(p.schema.field("f0_hz").type) == "double" and str(p.schema.field("voiced").type) == "bool"
    assert p.to_pylist() == [
        {"file": "/music/a.flac", "node": "p", "task": "pitch", "t": 0.0, "f0_hz": 220.0, "voiced": True, "extra": None},
        {"file": "/music/a.flac", "node": "p", "task": "pitch", "t": 0.02, "f0_hz": 220.5, "voiced": False, "extra": "x"}]
    t = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert t == [{"file": "/music/a.flac", "node": "t", "task": "tags", "t": 0.01, "tags.piano": 0.5, "tags.bass": 0.25}]
    assert not list(tmp_path.glob("*.part"))


def test_integer_fields_stay_integers(tmp_path):
    sink = TableSink("f")
    sink.send([Event("notes", 0.1 * i, {"on": 1, "pitch": 60 + i}, node="notes") for i in range(3)])
    sink.write({"notes": tmp_path / "n.parquet"})
    assert str(pq.read_table(tmp_path / "n.parquet").schema.field("pitch").type) == "int64"
