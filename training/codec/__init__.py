"""The streaming codec (issue #16): crops of mixes and solo stems, losses, training on the training
core, metrics and the evaluation against Opus."""
