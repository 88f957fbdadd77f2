"""``python -m training.codec --config training/codec/configs/codec.json [--max-minutes M] [--out-dir DIR]``.

Trains the streaming spectral codec on the training core (``training.core.loop``), validates it
periodically on MuseScore_General band mixes (the issue's mel distance at 1.5 / 3 / 6 kbps, codebook
perplexity), keeps the best checkpoint (``OUT_DIR/best.safetensors``, exported in two halves by
``python -m export CKPT --part encoder|decoder``). An interrupted run continues from
``OUT_DIR/resume.pt`` when started again with the same config; ``--fresh`` discards it.
Exit codes: 0 done, 2 bad config or data (one line on stderr).
"""
from __future__ import annotations

import sys

from training.core.cli import train_main

from .config import load_config


def _trainer():
    from .train import train

    return train


def main(argv: list[str] | None = None) -> int:
    return train_main("python -m training.codec", __doc__.splitlines()[0], load_config, _trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
