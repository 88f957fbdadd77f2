"""OSC 1.0 datagrams for rtmir events, built with ``struct`` (no python-osc on the hot path).

Why not python-osc's builders: a 10-message bundle costs ~90 µs there (PLATFORM.md), and the
worker thread that sends it competes with the audio callback for the GIL. Our messages have a
fixed shape per task (the tag labels come in a fixed order), so each shape is compiled once into
a ``struct.Struct`` whose constant parts (addresses, type tags, label strings) are passed as
``s`` fields: one ``pack`` call per hop and task. Only float32 (``f``), int32 (``i``) and strings
(``s``) are emitted: Pure Data drops int64, bool, nil and double.

Datagram layout (all big-endian, every part padded to 4 bytes)::

    message  = address\\0..  ,tags\\0..  arg arg ...
    bundle   = "#bundle\\0"  timetag(uint64, NTP)  [size(int32) message]...

Timetag: NTP fixed point, seconds since 1900-01-01 in the high 32 bits, fraction in the low 32;
the special value 1 means "immediately".
"""
from __future__ import annotations

import math
import struct
from typing import Any, Iterable

import numpy as np

from ..core.processor import Event

#: Seconds from the NTP epoch (1900) to the UNIX epoch (1970).
NTP_UNIX_OFFSET_S = 2_208_988_800
#: The OSC timetag that means "process immediately".
IMMEDIATELY = 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Floor for non-finite or very low stem levels (dBFS): receivers get a number, never -inf.
LEVEL_FLOOR_DBFS = -200.0

BUNDLE_HEAD = b"#bundle\x00"
_TIMETAG = struct.Struct(">Q")
_SIZE = struct.Struct(">i")
# Characters OSC 1.0 forbids in an address part (plus "/", which separates parts).
_ADDRESS_FORBIDDEN = str.maketrans({c: "_" for c in " #*,/?[]{}"})


class OscError(ValueError):
    """A bad OSC destination or option (unresolvable host, bad port, bad prefix).

    A ``ValueError`` so the CLI can turn it into exit code 2 with its one-line message.
    """


def osc_string(text: str) -> bytes:
    """UTF-8 bytes, NUL-terminated and padded to a multiple of 4 (OSC-string)."""
    raw = text.encode("utf-8")
    return raw + b"\x00" * (4 - len(raw) % 4)


def address_part(name: str) -> str:
    """``name`` made safe as one OSC address part: forbidden characters become ``_``."""
    return str(name).translate(_ADDRESS_FORBIDDEN) or "_"


def check_prefix(prefix: str) -> str:
    """Validate an address prefix such as ``/rtmir``.

    Raises:
        OscError: it does not start with ``/``, ends with ``/`` or holds forbidden characters.
    """
    parts = prefix.split("/")
    if not prefix.startswith("/") or prefix.endswith("/") or any(
        not p or address_part(p) != p for p in parts[1:]
    ):
        raise OscError(f"bad OSC prefix {prefix!r}: use parts like '/rtmir' or '/studio/rtmir'")
    return prefix


def ntp_timetag(unix_s: float) -> int:
    """UNIX seconds → 64-bit NTP timetag (wraps like NTP does; resolution ~0.5 µs)."""
    secs = math.floor(unix_s)
    frac = int((unix_s - secs) * 4294967296.0)
    return (((secs + NTP_UNIX_OFFSET_S) & 0xFFFFFFFF) << 32) | frac


def clamp_int32(value: Any) -> int:
    """An int32 for OSC ``i``: rounded, clamped to ±2³¹ (python-osc would switch to int64)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(x):
        return 0
    return int(min(max(round(x), INT32_MIN), INT32_MAX))


def finite_f32(value: Any, default: float = 0.0) -> float:
    """A float that ``struct`` packs as float32: NaN/None → ``default``, ±inf/huge → ±max."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    if -FLOAT32_MAX <= x <= FLOAT32_MAX:
        return x
    if x != x:
        return default
    return FLOAT32_MAX if x > 0.0 else -FLOAT32_MAX


def build_message(address: str, args: Iterable[Any]) -> bytes:
    """One OSC message from Python values (slow path; fine for status and tests).

    ``str`` → ``s``; ``bool``/``int`` → ``i`` (clamped to int32); anything else numeric → ``f``
    (float32, clamped). Use floats where receivers expect floats: ``True`` is sent as ``i 1``.
    """
    tags, data = [","], []
    for arg in args:
        if isinstance(arg, str):
            tags.append("s")
            data.append(osc_string(arg))
        elif isinstance(arg, (bool, int, np.integer)):
            tags.append("i")
            data.append(_SIZE.pack(clamp_int32(arg)))
        else:
            tags.append("f")
            data.append(struct.pack(">f", finite_f32(arg)))
    return osc_string(address) + osc_string("".join(tags)) + b"".join(data)


def build_bundle(timetag: int, messages: Iterable[bytes]) -> bytes:
    """A bundle datagram: ``timetag`` (NTP, or ``IMMEDIATELY``) and the given messages."""
    parts = [BUNDLE_HEAD, _TIMETAG.pack(timetag)]
    for m in messages:
        parts.append(_SIZE.pack(len(m)))
        parts.append(m)
    return b"".join(parts)


def _element(address: str, typetags: str) -> bytes:
    """Address and type tags of a message, for use as the constant start of a packed element."""
    return osc_string(address) + osc_string("," + typetags)


class _Shape:
    """A compiled group of bundle elements of fixed shape: constants + float32 slots.

    ``pack(values)`` returns the bytes of all elements (each preceded by its int32 size).
    ``slots[i]`` lists the positions in the ``pack`` argument list that take ``values[i]``.
    """

    def __init__(self, pieces: list[tuple[bytes, int]]) -> None:
        # pieces: (constant bytes, number of float32 arguments following it)
        fmt, self.template = [">"], []
        for const, n_floats in pieces:
            fmt.append(f"{len(const)}s" + "f" * n_floats)
            self.template.append(const)
            self.template.extend([0.0] * n_floats)
        self.struct = struct.Struct("".join(fmt))

    def pack(self, args: list) -> bytes:
        return self.struct.pack(*args)


#: Result kinds of events that reach a formatter without an engine's graph (tests, scripts):
#: by task name; anything else is "raw". Inside an engine every node declares its kind.
UNBOUND_RESULTS = {"pitch": "pitch", "yin": "pitch", "tags": "tags", "sep": "levels", "separate": "levels",
                   "notes": "notes"}
#: Result kinds whose first node keeps today's short addresses (``/rtmir/pitch``, ...).
SHORT_ADDRESSES = ("pitch", "tags", "levels", "notes")


_LOG2_440 = math.log2(440.0)


class EventFormatter:
    """Turns rtmir events into OSC bundle datagrams (one per distinct ``t``).

    Args:
        prefix: address prefix, e.g. ``/rtmir``.

    Dispatch is by each node's declared result kind (``bind_graph``), never by field names:

        kind     first node of the kind        every other node
        pitch    /rtmir/pitch                  /rtmir/<node>/pitch
        tags     /rtmir/tags, /rtmir/tag/<l>   /rtmir/<node>/tags, /rtmir/<node>/tag/<l>
        levels   /rtmir/sep/<stem>             /rtmir/<node>/sep/<stem>
        notes    /rtmir/note                   /rtmir/<node>/note
        raw      /rtmir/<node>/<key>           /rtmir/<node>/<key>

    Real-time notes: after the first event of each shape, formatting allocates only the
    datagram and small argument lists; no logging, no locks. Not thread-safe (one sink, one thread).
    """

    def __init__(self, prefix: str = "/rtmir") -> None:
        self.prefix = check_prefix(prefix)
        self._nodes: dict[str, tuple[str, str]] = {}  # node → (result kind, address base)
        self._pitch_shapes: dict[str, tuple[struct.Struct, bytes]] = {}
        self._tag_shapes: dict[tuple, tuple[_Shape, slice, slice]] = {}
        self._sep_shapes: dict[tuple, _Shape] = {}
        self._generic: dict[tuple, bytes] = {}
        #: values that could not be formatted (unsupported types), counted not raised.
        self.skipped_values = 0

    def bind_graph(self, graph) -> None:
        """Learn each node's result kind and address base from a ``core.graph.Graph``."""
        first: set[str] = set()
        self._nodes = {}
        for node in graph.nodes:
            kind = node.desc.result or "raw"
            short = kind in SHORT_ADDRESSES and kind not in first
            first.add(kind)
            self._nodes[node.name] = (kind, self.prefix if short else f"{self.prefix}/{address_part(node.name)}")

    def route(self, event: Event) -> tuple[str, str]:
        """``(result kind, address base)`` of an event's node."""
        got = self._nodes.get(event.node)
        if got is not None:
            return got
        kind = UNBOUND_RESULTS.get(event.task, "raw")
        base = self.prefix if kind in SHORT_ADDRESSES else f"{self.prefix}/{address_part(event.node or event.task)}"
        return kind, base

    # -- per result kind ------------------------------------------------------------------
    def pitch(self, values: dict, base: str | None = None) -> bytes:
        """``<base>/pitch f0 confidence midi``: f0 and MIDI are 0.0 when unvoiced (or f0 invalid)."""
        base = self.prefix if base is None else base
        shape = self._pitch_shapes.get(base)
        if shape is None:
            head = _element(f"{base}/pitch", "fff")
            shape = self._pitch_shapes[base] = (struct.Struct(f">{4 + len(head)}sfff"), _SIZE.pack(len(head) + 12) + head)
        f0 = values.get("f0_hz", 0.0)
        conf = values.get("confidence", 0.0)
        if values.get("voiced", True) and 0.0 < f0 < 1e9:
            f0 = float(f0)
            midi = 69.0 + 12.0 * (math.log2(f0) - _LOG2_440)  # f0 / 440 underflows for subnormal f0
        else:
            f0 = midi = 0.0
        conf = 0.0 if not conf >= 0.0 else (1.0 if conf > 1.0 else float(conf))
        return shape[0].pack(shape[1], f0, conf, midi)

    def tags(self, tags: dict, base: str | None = None) -> bytes:
        """``<base>/tags name p name p ...`` and one ``<base>/tag/<name> p`` per label (p clamped to 0..1)."""
        base = self.prefix if base is None else base
        names = tuple(tags)
        entry = self._tag_shapes.get((base, names))
        if entry is None:
            entry = self._tag_shapes[(base, names)] = self._compile_tags(names, base)
        shape, in_list, in_singles = entry
        # Probabilities clamped to 0..1 inline (NaN → 0): a function call per label costs ~0.7 µs.
        probs = [(p if p <= 1.0 else 1.0) if p >= 0.0 else 0.0 for p in tags.values()]
        args = shape.template.copy()
        args[in_list] = probs
        args[in_singles] = probs
        return shape.pack(args)

    def _compile_tags(self, names: tuple, base: str) -> tuple[_Shape, slice, slice]:
        n = len(names)
        head = _element(f"{base}/tags", "sf" * n)
        labels = [osc_string(str(name)) for name in names]
        list_head = _SIZE.pack(len(head) + sum(len(b) for b in labels) + 4 * n) + head
        if n:
            pieces = [(list_head + labels[0], 1)] + [(b, 1) for b in labels[1:]]
        else:  # an empty tag set still says "no labels"
            pieces = [(list_head, 0)]
        for name in names:
            one = _element(f"{base}/tag/{address_part(name)}", "f")
            pieces.append((_SIZE.pack(len(one) + 4) + one, 1))
        shape = _Shape(pieces)
        # template = [c0, p0, c1, p1, ..., c_{n-1}, p_{n-1}, s0, p0, s1, p1, ...]
        return shape, slice(1, 2 * n, 2), slice(2 * n + 1, 4 * n, 2)

    def note(self, values: dict, base: str, stem: str) -> bytes:
        """``<base>/note on(i) pitch(i) velocity(i) stem(s)``: one note change; ``stem`` is
        "drums" for a drum hit (``pitch`` a GM drum note), else the node's name."""
        msg = build_message(f"{base}/note", [1 if values.get("on") else 0, clamp_int32(values.get("pitch", 0)),
                                             clamp_int32(values.get("velocity", 0)),
                                             "drums" if values.get("drum") else stem])
        return _SIZE.pack(len(msg)) + msg

    def separation(self, levels: dict, base: str | None = None) -> bytes:
        """``<base>/sep/<stem> level`` (dBFS, floored at ``LEVEL_FLOOR_DBFS``) per stem."""
        base = self.prefix if base is None else base
        stems = tuple(levels)
        shape = self._sep_shapes.get((base, stems))
        if shape is None:
            pieces = []
            for stem in stems:
                one = _element(f"{base}/sep/{address_part(stem)}", "f")
                pieces.append((_SIZE.pack(len(one) + 4) + one, 1))
            shape = self._sep_shapes[(base, stems)] = _Shape(pieces)
        args = shape.template.copy()
        args[1::2] = [max(finite_f32(v, LEVEL_FLOOR_DBFS), LEVEL_FLOOR_DBFS) for v in levels.values()]
        return shape.pack(args)

    def generic(self, base: str, values: dict) -> bytes:
        """``<base>/<key> args`` for numbers, bools, strings, flat sequences; dicts one level deep.

        ``base`` is a full address base (``/rtmir/<node>``); a bare name is put under the prefix.
        """
        if not base.startswith("/"):
            base = f"{self.prefix}/{address_part(base)}"
        out = []
        for key, value in values.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    out.append(self._generic_one(f"{base}/{address_part(key)}/{address_part(sub)}", v))
            else:
                out.append(self._generic_one(f"{base}/{address_part(key)}", value))
        return b"".join(out)

    def _generic_one(self, address: str, value: Any) -> bytes:
        if isinstance(value, str):
            args: list = [osc_string(value)]
            tags = "s"
        elif isinstance(value, (list, tuple, np.ndarray)):
            try:
                args = [finite_f32(v) for v in np.asarray(value, dtype=np.float64).ravel()]
            except (TypeError, ValueError):
                self.skipped_values += 1
                return b""
            tags = "f" * len(args)
        elif isinstance(value, (bool, int, float, np.number, np.bool_)):
            args, tags = [finite_f32(value)], "f"
        else:
            self.skipped_values += 1
            return b""
        key = (address, tags)
        head = self._generic.get(key)
        if head is None:
            if len(self._generic) > 256:  # bounded: shapes vary only with list lengths
                self._generic.clear()
            head = self._generic[key] = _element(address, tags)
        body = args[0] if tags == "s" else struct.pack(f">{len(args)}f", *args)
        return _SIZE.pack(len(head) + len(body)) + head + body

    # -- whole events ---------------------------------------------------------------------
    def elements(self, event: Event) -> bytes:
        """The bundle elements (size-prefixed messages) for one event."""
        kind, base = self.route(event)
        values = event.values
        try:
            if kind == "pitch":
                return self.pitch(values, base)
            if kind == "tags":
                return self.tags(values["tags"], base)
            if kind == "levels":
                return self.separation(values["levels_dbfs"], base)
            if kind == "notes":
                return self.note(values, base, event.node or event.task)
            return self.generic(base, values)
        except (TypeError, ValueError, AttributeError, OverflowError, KeyError, struct.error):
            # A malformed event must not stop the stream: count it, send the rest of the hop.
            self.skipped_values += 1
            return b""

    def bundles(self, events: list[Event], timetag_epoch: float | None) -> list[bytes]:
        """One bundle datagram per distinct ``t`` (events must be sorted by ``t``).

        Args:
            events: as given to a sink's ``send``.
            timetag_epoch: UNIX seconds at stream time 0, or None for "immediately".
        """
        out: list[bytes] = []
        parts: list[bytes] = []
        t_prev = None
        for ev in events:
            if ev.t != t_prev:
                if parts:
                    out.append(b"".join(parts))
                t_prev = ev.t
                tt = IMMEDIATELY if timetag_epoch is None else ntp_timetag(timetag_epoch + ev.t)
                parts = [BUNDLE_HEAD, _TIMETAG.pack(tt)]
            parts.append(self.elements(ev))
        if parts:
            out.append(b"".join(parts))
        return out

    def status(self, stats: dict) -> bytes:
        """``/status xruns(i) missed_hops(i) cpu_load(f, 0..1) latency_ms(f)``; missing → 0."""
        load = min(max(finite_f32(stats.get("cpu_load", 0.0)), 0.0), 1.0)
        return build_message(
            f"{self.prefix}/status",
            [
                clamp_int32(stats.get("xruns", 0)),
                clamp_int32(stats.get("missed_hops", 0)),
                load,
                finite_f32(stats.get("latency_ms", 0.0)),
            ],
        )

    def node_figures(self, stats: dict) -> list[bytes]:
        """One plain message ``<node base>/live f ...`` per node in ``stats["nodes"]`` (the live
        host's ``measured()`` figures, in the node's own order; non-finite → 0)."""
        out = []
        for name, figures in stats.get("nodes", {}).items():
            got = self._nodes.get(name)
            base = got[1] if got is not None else f"{self.prefix}/{address_part(name)}"
            if base == self.prefix:  # a short-addressed kind (pitch, tags): /rtmir/live would be ambiguous
                base = f"{self.prefix}/{address_part(name)}"
            out.append(build_message(f"{base}/live", [finite_f32(v) for v in figures.values()]))
        return out
