"""Which processor a ``--task`` name builds (the CLI's only way to make processors)."""
from __future__ import annotations

from ..core.processor import Processor


class UnknownTaskError(ValueError):
    """The task name is not one rtmir knows, or it has no model shipped yet."""


TASKS = {
    "yin": "YIN pitch (DSP baseline, numba); events f0_hz/voiced/confidence",
    "model": "any exported model given with --model, raw outputs as events",
}
DEFAULT_TASK = "yin"


def build_processor(task: str, model: str | None = None) -> Processor:
    """Build the processor for ``task`` (opening ``model`` when the task needs one).

    Raises:
        UnknownTaskError: unknown task, or ``--task model`` without ``--model``.
        ModelError: the model cannot be found or opened.
    """
    if task == "yin":
        from .yin import YinProcessor

        return YinProcessor()
    if task == "model":
        if not model:
            raise UnknownTaskError("--task model needs --model NAME|PATH")
        from ..session import StreamingSession
        from ..zoo import resolve_model
        from .model import ModelProcessor

        return ModelProcessor(StreamingSession(resolve_model(model)))
    known = ", ".join(sorted(TASKS))
    raise UnknownTaskError(f"unknown task {task!r}: choose one of {known}")
