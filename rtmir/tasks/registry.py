"""Which processor a ``--task`` name builds (the CLI's only way to make processors)."""
from __future__ import annotations

from ..core.graph import GraphError, NodeSpec
from ..core.processor import Processor


class UnknownTaskError(ValueError):
    """The task name is not one rtmir knows, or it has no model shipped yet."""


TASKS = {
    "pitch": "neural pitch (pitch-tcn v2, streaming TCN, 10 ms hop and latency, A0-C8); events f0_hz/voiced/confidence",
    "yin": "YIN pitch (DSP baseline, numba); events f0_hz/voiced/confidence",
    "tags": "instrument families sounding (streaming TCN tagger, tags-tcn); events tags",
    "notes": "polyphonic notes of the mix: 88 pitches + 6 drum classes (streaming TCN transcriber, notes-tcn, "
             "40 ms); events on/pitch/velocity/drum; MIDI with --midi-file / --midi jack:NAME",
    "separate": "drums, bass, other and melody as audio (streaming mask separator, 11.6 ms); events levels_dbfs",
    "codec": "neural codec live, encode -> decode at 1.5-6 kbps (24 kHz, 13.3 ms); audio, tokens; events tokens",
    "codec_encode": "the codec's encoder: audio -> tokens (a graph edge to codec_decode); events tokens",
    "codec_decode": "the codec's decoder: tokens -> audio (lost frames concealed)",
    "generate": "live generation: a token LM over the codec continues or answers the input (gen-lm); audio; "
                "events state",
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
    if task == "separate":
        return _separate_processor(model)
    if task == "notes":
        return _notes_processor(model)
    if task in ("codec", "codec_encode", "codec_decode"):
        return _codec_processor(task, model)
    if task == "generate":
        return _generate_processor(model)
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
TAGS_MODEL = "tags-tcn"
"""Zoo name of the model ``--task tags`` streams when no ``--model`` is given."""
SEPARATE_MODEL = "sep-tcn"
"""Zoo name of the model ``--task separate`` streams when no ``--model`` is given."""
NOTES_MODEL = "notes-tcn"
"""Zoo name of the model ``--task notes`` streams when no ``--model`` is given."""
GENERATE_MODEL = "gen-lm"
"""Zoo name of the token LM ``--task generate`` runs when no ``--model`` is given (over the shipped codec)."""


def _pitch_processor(model: str | None) -> Processor:
    """``PitchProcessor`` over ``model`` (default: the shipped pitch-tcn).

    Raises:
        UnknownTaskError: no model given and none shipped.
    """
    from .pitch import PitchProcessor

    return PitchProcessor(_session(model, PITCH_MODEL, f"no pitch model shipped ({PITCH_MODEL}.onnx missing from "
                                                       f"rtmir/zoo); use --task yin"))


def _tags_processor(model: str | None) -> Processor:
    """``TagsProcessor`` over ``model`` (default: the shipped tags-tcn).

    Raises:
        UnknownTaskError: no model given and none shipped.
    """
    from .tags import TagsProcessor

    return TagsProcessor(_session(model, TAGS_MODEL, f"no tagging model shipped yet ({TAGS_MODEL}.onnx missing from "
                                                     f"rtmir/zoo); give one with --task tags --model PATH"))


def _notes_processor(model: str | None) -> Processor:
    """``NotesProcessor`` over ``model`` (default: the shipped notes-tcn).

    Raises:
        UnknownTaskError: no model given and none shipped, or not a notes model.
    """
    from .notes import NotesProcessor

    session = _session(model, NOTES_MODEL, f"no notes model shipped yet ({NOTES_MODEL}.onnx missing from rtmir/zoo); "
                                           f"give one with --task notes --model PATH")
    try:
        return NotesProcessor(session)
    except ValueError as exc:
        raise UnknownTaskError(str(exc)) from None


def _separate_processor(model: str | None) -> Processor:
    """``SeparateProcessor`` over ``model`` (default: the shipped separator).

    Raises:
        UnknownTaskError: no model given and none shipped.
    """
    from .separate import SeparateProcessor

    session = _session(model, SEPARATE_MODEL, f"no separation model shipped yet ({SEPARATE_MODEL}.onnx missing "
                                              f"from rtmir/zoo); give one with --task separate --model PATH")
    try:
        return SeparateProcessor(session)
    except ValueError as exc:
        raise UnknownTaskError(str(exc)) from None


def _generate_processor(model: str | None) -> Processor:
    """``GenerateProcessor`` over ``model`` (default: the shipped gen-lm) and the shipped codec.

    Raises:
        UnknownTaskError: no model given and none shipped, or not a token LM of the codec's tokens.
        ModelError: a file is missing or cannot be opened.
    """
    from ..codec.files import CODEC_MODEL, CodecPair
    from ..zoo import zoo_models
    from .generate import GenerateProcessor

    session = _session(model, GENERATE_MODEL, f"no generation model shipped yet ({GENERATE_MODEL}.onnx missing "
                                              f"from rtmir/zoo); give one with --task generate --model PATH")
    if f"{CODEC_MODEL}-enc" not in {p.stem for p in zoo_models()}:
        raise UnknownTaskError(f"--task generate needs the shipped codec ({CODEC_MODEL}-enc.onnx missing from rtmir/zoo)")
    try:
        return GenerateProcessor(session, CodecPair.open())
    except ValueError as exc:
        raise UnknownTaskError(str(exc)) from None


def _codec_processor(task: str, model: str | None) -> Processor:
    """The codec processor of ``task`` over ``model`` (default: the shipped ``codec-enc``/``codec-dec`` pair).

    Raises:
        UnknownTaskError: no model given and none shipped.
        ModelError: the files are not a codec pair.
    """
    from ..codec.files import CODEC_MODEL, CodecPair
    from ..zoo import zoo_models
    from .codec import CodecDecodeProcessor, CodecEncodeProcessor, CodecProcessor

    if not model and f"{CODEC_MODEL}-enc" not in {p.stem for p in zoo_models()}:
        raise UnknownTaskError(f"no codec shipped yet ({CODEC_MODEL}-enc.onnx missing from rtmir/zoo); "
                               f"give one with --task {task} --model PATH/NAME-enc.onnx")
    cls = {"codec": CodecProcessor, "codec_encode": CodecEncodeProcessor, "codec_decode": CodecDecodeProcessor}[task]
    return cls(CodecPair.open(model))


def _session(model: str | None, default: str, missing: str):
    """A session of ``model`` (a zoo name or a path), or of the zoo's ``default``.

    Raises:
        UnknownTaskError: no model given and ``default`` not shipped (``missing`` says what to do).
    """
    from ..session import StreamingSession
    from ..zoo import resolve_model, zoo_models

    if not model:
        if default not in {p.stem for p in zoo_models()}:
            raise UnknownTaskError(missing)
        model = default
    return StreamingSession(resolve_model(model))


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
