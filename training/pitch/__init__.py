"""Training of the streaming pitch model (issue #6): ``python -m training.pitch --config training/pitch/configs/pitch.json``.

Modules, one concern each:

- ``config``: the frozen ``TrainConfig`` and its JSON file.
- ``targets``: labels (100 frames/s) -> per-hop targets at the instant each output describes.
- ``data``: pitch's label reader and ``load_split`` (``training.core.data`` at 16 kHz).
- ``crops``: the training ``Dataset`` (random crops, ``training.core.conditions.augment_crop``).
- ``metrics``: a small numpy scorer (raw pitch / chroma / overall accuracy, voicing rates).
- ``task``: the pitch ``Task`` (model, loss, batches, validation, checkpoint) for the core.
- ``train``: ``train(config)`` = the task on ``training.core.loop.fit`` (the shared loop).
"""
