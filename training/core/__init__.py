"""The training core every task shares (``training/<task>/`` holds only what is the task's own).

- ``task``: the seam — the ``Task`` protocol a task implements and the ``Validation`` it returns.
- ``loop``: ``fit(task, LoopConfig, record)`` — AdamW, warm-up + cosine over a time or step
  budget, clipping, skipped non-finite steps, validation every N minutes/steps on several
  conditions, patience, best checkpoint, ``history.jsonl``, resume after an interruption.
- ``conditions``: the one registry of audio conditions (clean, coloured noise at an SNR, rooms,
  EQ, gain) and the random training condition, for training, validation and evaluation alike.
- ``data``: synth folders -> whole clips in RAM with a task's labels (``LabelReader``), cached.
- ``provenance``: git commit, date, machine, versions, the training record.
- ``measure``: CPU seconds per second of audio of ``rtmir stream`` (a child process).
- ``ship``: a checkpoint -> the zoo, with every training stage and the figures in its card.

Only ``loop`` and ``task`` import torch; importing this package imports neither.
"""
