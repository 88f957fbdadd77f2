"""Which processor a ``--task`` name builds (the CLI's only way to make processors)."""
from __future__ import annotations

from ..core.graph import GraphError, NodeSpec
from ..core.processor import Processor


class UnknownTaskError(ValueError):
    """The task name is not one rtmir knows, or it has no model shipped yet."""


TASKS = {
    "pitch": "neural pitch (pitch-tcn, streaming TCN, 5 ms hop, 10 ms latency); events f0_hz/voiced/confidence",
    "yin": "YIN pitch (DSP baseline, numba); events f0_hz/voiced/confidence",
    "tags": "instrument families sounding (streaming LSTM tagger, --model until one ships); events tags",
    "model": "any exported model given with --model, raw outputs as events",
    "delay": "DSP delay line, 100 samples (audio only; callback-safe: may be placed inline)",
    "tone": "sine tone generator, 440 Hz at -12 dBFS (no input; may be placed ahead or inline)",
}
DEFAULT_TASK = "pitch"  # the shipped pitch-tcn; without it, --task pitch says "use --task yin"


def build_processor(task: str, model: str | None = None) -> Processor:
    """Build the processor for ``task`` (opening ``model`` when the task needs one).

    Raises:
        UnknownTaskError: unknown task, or ``--task model`` without ``--model``.
        ModelError: the model cannot be found or opened.
    """
    if task == "yin":
        from .yin import YinProcessor

        return YinProcessor()
    if task == "pitch":
        return _pitch_processor(model)
    if task == "tags":
        return _tags_processor(model)
    if task == "delay":
        from .delay import DelayProcessor

        return DelayProcessor()
    if task == "tone":
        from .tone import ToneProcessor

        return ToneProcessor()
    if task == "model":
        if not model:
            raise UnknownTaskError("--task model needs --model NAME|PATH")
        from ..session import StreamingSession
        from ..zoo import resolve_model
        from .model import ModelProcessor

        return ModelProcessor(StreamingSession(resolve_model(model)))
    known = ", ".join(sorted(TASKS))
    raise UnknownTaskError(f"unknown task {task!r}: choose one of {known}")


PITCH_MODEL = "pitch-tcn"
"""Zoo name of the model ``--task pitch`` streams when no ``--model`` is given."""


def _pitch_processor(model: str | None) -> Processor:
    """``PitchProcessor`` over ``model`` (default: the shipped pitch-tcn).

    Raises:
        UnknownTaskError: no model given and none shipped.
    """
    from ..session import StreamingSession
    from ..zoo import resolve_model, zoo_models
    from .pitch import PitchProcessor

    if not model:
        if PITCH_MODEL not in {p.stem for p in zoo_models()}:
            raise UnknownTaskError(f"no pitch model shipped ({PITCH_MODEL}.onnx missing from rtmir/zoo); use --task yin")
        model = PITCH_MODEL
    return PitchProcessor(StreamingSession(resolve_model(model)))


TAGS_MODEL = "tags-lstm"
"""Zoo name of the model ``--task tags`` streams when no ``--model`` is given."""


def _tags_processor(model: str | None) -> Processor:
    """``TagsProcessor`` over ``model`` (default: the shipped tags-lstm).

    Raises:
        UnknownTaskError: no model given and none shipped.
    """
    from ..session import StreamingSession
    from ..zoo import resolve_model, zoo_models
    from .tags import TagsProcessor

    if not model:
        if TAGS_MODEL not in {p.stem for p in zoo_models()}:
            raise UnknownTaskError(f"no tagging model shipped yet ({TAGS_MODEL}.onnx missing from rtmir/zoo); "
                                   f"give one with --task tags --model PATH")
        model = TAGS_MODEL
    return TagsProcessor(StreamingSession(resolve_model(model)))


def make_node(spec: NodeSpec) -> Processor:
    """The processor of a graph node: its task (and model), its initial parameters applied.

    Raises:
        UnknownTaskError, ModelError: as ``build_processor``.
        GraphError: an unknown parameter, or a value outside its declared range.
    """
    p = build_processor(spec.task, spec.model)
    desc = p.describe()
    for name, value in spec.params.items():
        try:
            p.set_param(name, desc.param(name).check(value))
        except KeyError as exc:
            raise GraphError(f"node {spec.name}: {exc.args[0]}") from None
        except ValueError as exc:
            raise GraphError(f"node {spec.name}: {exc}") from None
    return p
