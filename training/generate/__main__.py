"""``python -m training.generate --config training/generate/configs/generate.json [--max-minutes M] [--out-dir DIR]``.

Trains the token language model (``models.token_lm``) on the training core over the shipped
codec's tokens of synthesized band pieces (encoded once and cached), validates the negative
log-likelihood per code on MuseScore_General pieces, keeps the best checkpoint
(``OUT_DIR/best.safetensors``). An interrupted run continues from ``OUT_DIR/resume.pt`` when started
again with the same config; ``--fresh`` discards it. Exit codes: 0 done, 2 bad config or data.
"""
from __future__ import annotations

import sys

from training.core.cli import train_main

from .config import load_config


def _trainer():
    from .train import train

    return train


def main(argv: list[str] | None = None) -> int:
    return train_main("python -m training.generate", __doc__.splitlines()[0], load_config, _trainer, argv)


if __name__ == "__main__":
    sys.exit(main())
