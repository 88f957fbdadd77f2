"""``python -m training.pitch --config training/pitch/configs/pitch.json [--max-minutes M] [--out-dir DIR]``.

Trains the streaming pitch model on the training core (``training.core.loop``), validates it
periodically on MuseScore_General clips, keeps the best checkpoint (``OUT_DIR/best.safetensors``,
loadable by ``python -m export``) and prints the final validation figures. A run interrupted
(Ctrl-C, a crash, a lost machine) continues from ``OUT_DIR/resume.pt`` when started again with
the same config; ``--fresh`` discards it. Exit codes: 0 done, 2 bad config or data (one line on
stderr).
"""
from __future__ import annotations

import sys

from training.core.cli import train_main

from .config import load_config


def _trainer():
    from .train import train  # torch is imported only once the inputs are valid

    return train


def main(argv: list[str] | None = None) -> int:
    return train_main("python -m training.pitch", __doc__.splitlines()[0], load_config, _trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
