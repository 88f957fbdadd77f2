"""The processing graph: named nodes, typed edges between their ports, routes of audio to outputs.

    GraphSpec (what the user wrote: a TOML file, or ``--task a --task b``)
        │ build_graph(spec, make_processor)   processors made, described, every edge checked
        ▼
    Graph: nodes in topological order, each with the source of every input port

A graph file::

    edges  = ["input -> sep", "sep.melody -> pitch", "enc.tokens -> dec.tokens"]
    routes = ["sep.drums -> out:1", "dec.audio -> out:3", "sep.melody -> file"]

    [nodes.sep]
    task = "separate"
    [nodes.pitch]
    task = "pitch"
    params = { voicing_threshold = 0.4 }
    miss_policy = "hold"
    placement = "worker"          # or "inline": audio in → audio out, run in the audio callback

- ``input`` is the host input (audio, any channels, the host's rate).
- An endpoint is ``node.port``; a bare ``node`` means its first data port (inputs) or its
  ``audio`` port (outputs).
- ``out:N`` routes an audio port to host output channels N, N+1, … (1-based, one per channel of
  the port); ``file`` writes it to ``--out-dir`` as ``<port>.wav`` (``<node>_<port>.wav`` when two
  nodes share a port name), ``file:NAME.wav`` under that name.

``parallel_graph(processors)`` is the short form already built: every processor on the input
(generators, with no data input, on nothing), audio outputs on consecutive output channels.

Checks (``GraphError``, one line naming both ends): unknown node or port, an edge between ports
of different kinds, token/frame edges whose frame rates or widths differ, audio edges whose
widths differ, an input fed twice, a required input fed by nothing, a cycle, a route from a port
that is not audio, an output channel used twice.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .ports import MISS_POLICIES, PLACEMENTS, Description, Port
from .processor import Processor

HOST = "input"
"""Name of the host input in edges (``input -> pitch``)."""


class GraphError(ValueError):
    """A graph that cannot be built: the message names the nodes and ports involved."""


@dataclass(frozen=True)
class Endpoint:
    """``node.port``; ``port`` None = the node's default port."""

    node: str
    port: str | None = None

    def __str__(self) -> str:
        return self.node if self.port is None else f"{self.node}.{self.port}"

    @classmethod
    def parse(cls, text: str) -> "Endpoint":
        node, _, port = text.strip().partition(".")
        if not node or (_ and not port):
            raise GraphError(f"bad endpoint {text!r}: use NODE or NODE.PORT")
        return cls(node, port or None)


@dataclass(frozen=True)
class NodeSpec:
    """One node as written: ``task`` (a registry name) or a ``model`` path, its settings.

    Attributes:
        name: instance name (an OSC address part: ``/rtmir/<name>/...``).
        task: registry task ("pitch", "yin", "model", ...).
        model: zoo name or .onnx path (for tasks that take one).
        params: initial parameter values (checked against the processor's ranges).
        miss_policy: None = the processor's default.
        deadline_ms: compute lag after which the node's hops are missed (live; None = the host's).
        placement: "worker", "inline" or "ahead" (None: the processor's own).
    """

    name: str
    task: str
    model: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    miss_policy: str | None = None
    deadline_ms: float | None = None
    placement: str | None = None


@dataclass(frozen=True)
class Route:
    """An audio port sent to host output channels (``channel``, 1-based) or to a file."""

    src: Endpoint
    channel: int | None = None
    file: str | None = None


@dataclass(frozen=True)
class GraphSpec:
    """A graph as written: nodes, edges (src → dst), routes."""

    nodes: tuple[NodeSpec, ...]
    edges: tuple[tuple[Endpoint, Endpoint], ...]
    routes: tuple[Route, ...] = ()

    @classmethod
    def from_toml(cls, path: str | Path) -> "GraphSpec":
        """Read a graph file (format in the module docstring).

        Raises:
            GraphError: unreadable file, bad TOML, unknown keys, malformed edges or routes.
        """
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise GraphError(f"cannot read graph file {p}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise GraphError(f"graph file {p} is not valid TOML: {exc}") from None
        return cls.from_dict(raw, str(p))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "graph") -> "GraphSpec":
        """The same as ``from_toml`` from an already parsed mapping."""
        _only(raw, {"nodes", "edges", "routes"}, where)
        nodes = tuple(_node_spec(name, body, where) for name, body in (raw.get("nodes") or {}).items())
        if not nodes:
            raise GraphError(f"{where}: no [nodes.NAME] tables")
        edges = tuple(_edge(text, where) for text in _strings(raw.get("edges", []), "edges", where))
        routes = tuple(_route(text, where) for text in _strings(raw.get("routes", []), "routes", where))
        return cls(nodes, edges, routes)

    @classmethod
    def parallel(cls, tasks: list[str], model: str | None = None) -> "GraphSpec":
        """The short form ``--task a --task b``: parallel nodes on the input (names: the task,
        ``task_2``, ``task_3`` … when a task repeats); audio outputs go to consecutive channels."""
        names = unique_names(tasks)
        nodes = tuple(NodeSpec(n, t, model) for n, t in zip(names, tasks))
        return cls(nodes, tuple((Endpoint(HOST), Endpoint(n)) for n in names))


def unique_names(tasks: list[str]) -> list[str]:
    """``["yin", "pitch", "yin"]`` → ``["yin", "pitch", "yin_2"]``."""
    seen: dict[str, int] = {}
    out = []
    for t in tasks:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if seen[t] == 1 else f"{t}_{seen[t]}")
    return out


@dataclass
class GraphNode:
    """A built node: its processor, description and the source of each connected input."""

    spec: NodeSpec
    processor: Processor
    desc: Description
    sources: dict[str, Endpoint] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Graph:
    """A checked graph: ``nodes`` in topological order (every source before its consumers)."""

    nodes: list[GraphNode]
    routes: list[Route]

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self, node: str, port: str) -> list[tuple[GraphNode, str]]:
        """``(node, input port)`` pairs fed by ``node.port``."""
        return [(n, p) for n in self.nodes for p, src in n.sources.items() if src == Endpoint(node, port)]


def build_graph(spec: GraphSpec, make: Callable[[NodeSpec], Processor]) -> Graph:
    """Make each node's processor with ``make``, resolve and check every edge and route.

    Raises:
        GraphError: see the module docstring; processors' own errors pass through.
    """
    names = [n.name for n in spec.nodes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GraphError(f"node names used twice: {', '.join(dupes)}")
    if HOST in names:
        raise GraphError(f"{HOST!r} names the host input: choose another node name")
    nodes = {}
    for ns in spec.nodes:
        p = make(ns)
        nodes[ns.name] = GraphNode(ns, p, p.describe())
    for src, dst in spec.edges:
        _connect(nodes, src, dst)
    for node in nodes.values():
        fed = [p.name for p in node.desc.inputs if p.is_data and p.name in node.sources]
        if len(fed) > 1:
            raise GraphError(f"node {node.name}: edges into {', '.join(fed)}, but a node steps on one data input "
                             "today (feed the others as control values)")
        for port in node.desc.inputs:
            if port.required and port.name not in node.sources:
                raise GraphError(f"input {node.name}.{port.name} is fed by nothing: add an edge "
                                 f"such as \"input -> {node.name}.{port.name}\"")
    order = _topological(nodes)
    routes = [_check_route(nodes, r) for r in spec.routes]
    channels = [c for r in routes if r.channel for c in range(r.channel, r.channel + _width(nodes, r.src))]
    if len(set(channels)) != len(channels):
        raise GraphError(f"routes send two ports to the same output channel (channels {sorted(channels)})")
    return Graph([nodes[n] for n in order], routes)


def _connect(nodes: dict[str, GraphNode], src: Endpoint, dst: Endpoint) -> None:
    if dst.node == HOST:
        raise GraphError(f"edge {src} -> {dst}: the host input cannot be fed")
    if dst.node not in nodes:
        raise GraphError(f"edge {src} -> {dst}: no node named {dst.node!r}")
    target = nodes[dst.node]
    in_port = _port(target, dst, inputs=True)
    if src.node == HOST:
        out_port = Port("audio", "audio")
        src = Endpoint(HOST, "audio")
    elif src.node not in nodes:
        raise GraphError(f"edge {src} -> {dst}: no node named {src.node!r}")
    else:
        out_port = _port(nodes[src.node], src, inputs=False)
        src = Endpoint(src.node, out_port.name)
    where = f"edge {src} -> {dst.node}.{in_port.name}"
    if in_port.name in target.sources:
        raise GraphError(f"{where}: {dst.node}.{in_port.name} is already fed by {target.sources[in_port.name]}")
    _check_types(where, out_port, in_port)
    target.sources[in_port.name] = src


def _check_types(where: str, out: Port, inp: Port) -> None:
    if out.kind != inp.kind:
        raise GraphError(f"{where}: {out.kind} output into a {inp.kind} input")
    if out.kind == "events":
        return
    if out.width is not None and inp.width is not None and out.width != inp.width:
        raise GraphError(f"{where}: width {out.width} into an input of width {inp.width}")
    if out.kind in ("tokens", "frames") and None not in (out.rate, out.hop, inp.rate, inp.hop):
        if out.rate * inp.hop != inp.rate * out.hop:
            raise GraphError(f"{where}: {out.rate / out.hop:g} frames/s into an input that "
                             f"takes {inp.rate / inp.hop:g} frames/s")


def _port(node: GraphNode, end: Endpoint, inputs: bool) -> Port:
    ports = node.desc.inputs if inputs else node.desc.outputs
    if end.port is None:
        data = [p for p in ports if p.is_data]
        default = [p for p in data if p.name == "audio"] or data
        if not default:
            raise GraphError(f"{node.name} has no data {'input' if inputs else 'output'} to connect "
                             f"({', '.join(p.name for p in ports) or 'no ports'})")
        return default[0]
    for p in ports:
        if p.name == end.port:
            return p
    group = "input" if inputs else "output"
    raise GraphError(f"{node.name} has no {group} port {end.port!r} ({group}s: "
                     f"{', '.join(p.name for p in ports) or 'none'})")


def _topological(nodes: dict[str, GraphNode]) -> list[str]:
    """Kahn's order, keeping the written order among independent nodes."""
    deps = {n: {s.node for s in g.sources.values() if s.node != HOST} for n, g in nodes.items()}
    order: list[str] = []
    while len(order) < len(nodes):
        ready = [n for n in nodes if n not in order and deps[n] <= set(order)]
        if not ready:
            stuck = [n for n in nodes if n not in order]
            raise GraphError(f"the graph has a cycle through {' -> '.join(stuck)}: remove one of their edges")
        order.append(ready[0])
    return order


def _check_route(nodes: dict[str, GraphNode], r: Route) -> Route:
    if r.src.node not in nodes:
        raise GraphError(f"route from {r.src}: no node named {r.src.node!r}")
    port = _port(nodes[r.src.node], r.src, inputs=False)
    if port.kind != "audio":
        raise GraphError(f"route from {r.src.node}.{port.name}: only audio ports can be routed (it is {port.kind})")
    return Route(Endpoint(r.src.node, port.name), r.channel, r.file)


def _width(nodes: dict[str, GraphNode], end: Endpoint) -> int:
    return nodes[end.node].desc.output(end.port).width or 1


def _only(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise GraphError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _strings(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GraphError(f"{where}: {key} must be a list of strings like \"a.out -> b.in\"")
    return value


def _node_spec(name: str, body: Any, where: str) -> NodeSpec:
    if not isinstance(body, dict):
        raise GraphError(f"{where}: nodes.{name} must be a table")
    _only(body, {"task", "model", "params", "miss_policy", "deadline_ms", "placement"}, f"{where}: nodes.{name}")
    if "task" not in body and "model" not in body:
        raise GraphError(f"{where}: nodes.{name} needs a task (or a model)")
    params = body.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, (int, float)) for v in params.values()):
        raise GraphError(f"{where}: nodes.{name}.params must map names to numbers")
    _check_choice(body, "miss_policy", MISS_POLICIES, f"{where}: nodes.{name}")
    _check_choice(body, "placement", PLACEMENTS, f"{where}: nodes.{name}")
    deadline = body.get("deadline_ms")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or deadline <= 0):
        raise GraphError(f"{where}: nodes.{name}.deadline_ms must be a positive number of milliseconds, got {deadline!r}")
    return NodeSpec(name, body.get("task", "model"), body.get("model"), {k: float(v) for k, v in params.items()},
                    body.get("miss_policy"), body.get("deadline_ms"), body.get("placement"))


def _check_choice(body: dict, key: str, allowed: tuple[str, ...], where: str) -> None:
    value = body.get(key)
    if value is not None and value not in allowed:
        raise GraphError(f"{where}.{key}: {value!r} is not one of {', '.join(allowed)}")


def _edge(text: str, where: str) -> tuple[Endpoint, Endpoint]:
    src, arrow, dst = text.partition("->")
    if not arrow:
        raise GraphError(f"{where}: edge {text!r} has no '->'")
    return Endpoint.parse(src), Endpoint.parse(dst)


def _route(text: str, where: str) -> Route:
    src, arrow, dst = text.partition("->")
    dst = dst.strip()
    if not arrow:
        raise GraphError(f"{where}: route {text!r} has no '->'")
    if dst.startswith("out:") and dst[4:].isdigit() and int(dst[4:]) >= 1:
        return Route(Endpoint.parse(src), channel=int(dst[4:]))
    if dst == "file":
        return Route(Endpoint.parse(src), file="")
    if dst.startswith("file:") and dst[5:] and "/" not in dst[5:] and not dst[5:].startswith("."):
        return Route(Endpoint.parse(src), file=dst[5:])
    raise GraphError(f"{where}: route {text!r}: send to out:N (N >= 1), file, or file:NAME.wav (a plain name)")


def parallel_graph(processors: list[Processor]) -> Graph:
    """The short form: every processor on the input, audio outputs on consecutive rows."""
    made = iter(processors)
    spec = GraphSpec.parallel([p.task for p in processors])
    fed = [(src, dst) for (src, dst), p in zip(spec.edges, processors)
           if any(port.is_data for port in p.describe().inputs)]  # generators take no input
    graph = build_graph(GraphSpec(spec.nodes, tuple(fed)), lambda ns: next(made))
    row = 1
    for node in graph.nodes:
        for port in node.desc.outputs:
            if port.kind == "audio":
                graph.routes.append(Route(Endpoint(node.name, port.name), channel=row))
                row += port.width or node.processor.output_channels or 1
    return graph
