"""``python -m training.notes --config training/notes/configs/notes-tcn.json [--max-minutes M] [--out-dir DIR]``.

Trains the streaming transcriber on the training core (``training.core.loop``), validates it
periodically on MuseScore_General band pieces (pooled note onset F1 through the runtime's
decoder), keeps the best checkpoint (``OUT_DIR/best.safetensors``, loadable by ``python -m
export``). An interrupted run continues from ``OUT_DIR/resume.pt`` when started again with the
same config; ``--fresh`` discards it. Exit codes: 0 done, 2 bad config or data (one line on stderr).
"""
from __future__ import annotations

import sys

from training.core.cli import train_main

from .config import load_config


def _trainer():
    from .train import train

    return train


def main(argv: list[str] | None = None) -> int:
    return train_main("python -m training.notes", __doc__.splitlines()[0], load_config, _trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
