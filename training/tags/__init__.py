"""Instrument tagging (issue #14): which families are sounding, every hop, from a streaming LSTM.

- ``config``: ``TagsConfig`` (model, data, budget, augmentation) read from JSON.
- ``data``: synth folders -> 16 kHz clips with their ``tags`` labels (``training.synth.activity``).
- ``crops``: training crops with targets at the instant each output describes.
- ``metrics``: ROC-AUC and average precision per family.
- ``task``: the task on the training core; ``train``: one run; ``python -m training.tags``.
"""
