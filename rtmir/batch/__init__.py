"""``rtmir batch``: the ``rtmir stream`` graph over whole libraries, on local processes or Ray.

Layout of ``OUT`` (``--out``)::

    OUT/batch.json                    what the results were made with (tasks or graph, block,
                                      pitch range, rtmir version); another config is refused
    OUT/manifest.jsonl                one line per analysed input: path, size, mtime, sha256 of
                                      its bytes, status (done, same, error) and its figures
    OUT/jsonl/<name>.jsonl            the file's events, byte for byte what
                                      ``rtmir stream FILE --jsonl`` writes with the same options
    OUT/parquet/<node>/<name>.parquet one row per event of that node: file, node, task, t and
                                      the event's fields (nested dicts flattened: ``tags.piano``)

``<name>`` is the input's path relative to the deepest folder holding every input. Each output
is written as ``NAME.part`` and renamed when complete (``sinks.output_path``): a result under its
own name is whole; an interrupted run removes the parts it was writing, and a rerun removes any
a killed one left. Resuming: an input whose path, size and mtime the manifest lists is skipped
without reading it; another is hashed by its worker and skipped when the manifest holds a result
for the same bytes (a moved or renamed file is not analysed again: status ``same``). A file that
fails is recorded with its one-line error (status ``error``) and never stops the batch;
``--retry-errors`` tries those again.

One batch writes an ``OUT`` at a time (the manifest is locked). A result name belongs to the
input whose results it holds: another input under the same name (a second library with the same
layout) is refused with its line while that input exists. A worker process that dies mid-file
(a crash in native code) does not stop the batch: the files it may have held are analysed again
one at a time, and only one that kills a worker again is recorded as failing.

Modules: ``inputs`` (files, folders, globs → jobs), ``manifest`` (batch.json, manifest.jsonl,
hashes), ``tables`` (events → Parquet), ``worker`` (one process's graph; a file → its entry),
``run`` (the driver: local processes, progress, Ctrl-C), ``cluster`` (Ray actors).
"""
