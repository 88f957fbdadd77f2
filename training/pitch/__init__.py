"""Training of the streaming pitch model (issue #6): ``python -m training.pitch --config training/pitch/configs/pitch.json``.

Modules, one concern each:

- ``config``: the frozen ``TrainConfig`` and its JSON file.
- ``targets``: labels (100 frames/s) -> per-hop targets at the instant each output describes.
- ``data``: synth folders -> 16 kHz clips in RAM (cached), random crops, on-the-fly augmentation.
- ``metrics``: a small numpy scorer (raw pitch / chroma / overall accuracy, voicing rates).
- ``train``: the loop (AdamW, time budget, periodic validation, early stopping, best checkpoint).
"""
