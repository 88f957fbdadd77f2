"""Live generation (issue #17): a token language model over the shipped codec's tokens."""
