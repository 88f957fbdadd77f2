"""Source separation (issue #15): data, training on the training core, evaluation."""
