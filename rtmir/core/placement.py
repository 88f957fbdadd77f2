"""Placements other than the worker: ``inline`` (in the audio callback) and ``ahead``.

``ahead`` nodes are generators (no data input) that a thread of the live host runs ahead of
playback (``hosts/ahead.py``); ``check_placements`` says which nodes may be placed where.

The inline placement: nodes far cheaper than a block, run inside the audio callback.

    PortAudio callback:  indata ──► ring (worker) ...  outdata ◄── DelayRing (worker's audio)
                             └──► InlinePart.process(indata.T, outdata.T)  ── overwrites its rows

An inline node is ``callback_safe`` (its processor says so: no model call, allocation, lock or
I/O), takes audio (from the host input or another inline node) and gives audio only
(no events, no tokens: nothing the callback would have to hand on), and only inline nodes or
output routes consume it. Its output skips the live host's output ring, so it is heard
``output_latency_blocks`` blocks sooner than on the worker: the declared latency of an inline
route is its alignment + the processor's own + PortAudio's block. In files (``FileHost``) inline
nodes run with the rest of the graph, giving the same samples.

Real-time notes: ``process`` runs the nodes' preallocated paths (no array allocation; only the
small view objects every Python callback makes); a reset or a parameter change asked by another
thread (OSC ``/rtmir/ctl/...``) is applied at the start of the next callback, never concurrently.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from .graph import GraphError
from .node import Node


def check_placements(nodes: list[Node], consumers: dict[str, list[Node]], routed_to_files: set[str]) -> None:
    """Refuse inline nodes the callback cannot run, and ahead nodes that are not generators.

    An ahead node takes no data input (what it plays cannot depend on what has not been heard
    yet), gives audio only, and only output routes (or files, in file runs) consume it.

    Raises:
        GraphError: an ahead node with a data input, events or tokens, or consumers.
        GraphError: an inline node whose processor is not ``callback_safe`` (a model call, an
            allocation: never in the callback), with events or tokens, fed by a worker node,
            consumed by a worker node, or routed to a file.
    """
    for n in nodes:
        if n.placement != "ahead":
            continue
        if n.source is not None or any(p.kind != "audio" for p in n.desc.outputs):
            raise GraphError(f"node {n.name}: placement ahead is for generators: no data input, audio out only")
        if consumers.get(n.name):
            raise GraphError(f"node {n.name}: an ahead node's audio can only be routed to outputs, not fed to "
                             f"{', '.join(c.name for c in consumers[n.name])}")
    inline = {n.name for n in nodes if n.placement == "inline"}
    for n in nodes:
        if n.name not in inline:
            continue
        if any(p.kind != "audio" for p in n.desc.outputs) or n.in_port.kind != "audio":
            raise GraphError(f"node {n.name}: placement inline needs audio in and audio out only "
                             f"(outputs: {', '.join(p.kind for p in n.desc.outputs)})")
        if not n.desc.callback_safe:
            raise GraphError(f"node {n.name}: {n.processor.task} is not callback-safe (a model call or an allocation "
                             "per block), so it cannot be placed inline: keep it on the worker")
        if n.source is not None and n.source.node != "input" and n.source.node not in inline:
            raise GraphError(f"node {n.name}: an inline node must be fed by the input or another inline node, "
                             f"not by {n.source.node} (on the worker)")
        late = [c.name for c in consumers.get(n.name, []) if c.name not in inline]
        if late:
            raise GraphError(f"node {n.name}: inline output consumed by worker node(s) {', '.join(late)}")
        if n.name in routed_to_files:
            raise GraphError(f"node {n.name}: an inline node cannot be routed to a file (route its consumer)")


class InlinePart:
    """The inline nodes of an engine, run by the audio callback.

    Args:
        plan: ``(node, mode, key, aligners)`` as the engine's plan, inline nodes only.
        out_rows: ``(lo, hi, key)`` output rows the inline routes write.
        host_rate: Hz.
    """

    def __init__(self, plan: list, out_rows: list, host_rate: int) -> None:
        self.plan, self.out_rows, self.host_rate = plan, out_rows, host_rate
        self.nodes = [step[0] for step in plan]
        self._aligned: dict = {}
        self.reset_requested = False
        self.nonfinite_blocks = 0
        self.pending: deque = deque(maxlen=256)  # (processor, param, value) from the control thread

    def set_param(self, node: Node, name: str, value: float) -> None:
        """Change a parameter of an inline node at the next callback (any thread)."""
        self.pending.append((node.processor, name, value))

    def process(self, block: np.ndarray, out: np.ndarray) -> None:
        """Run the inline nodes on ``block [C, n]`` and write their routed rows of ``out [C_out, n]``.

        Real-time safe (see the module docstring). A block with NaN/Inf silences the inline rows
        for that block (counted in ``nonfinite_blocks``); the input buffer is never written.
        """
        if self.reset_requested:
            for node in self.nodes:
                node.reset()
            self.reset_requested = False
        while self.pending:  # deque.popleft is atomic: the control thread only appends
            processor, name, value = self.pending.popleft()
            processor.set_param(name, value)
        n = block.shape[1]
        if not math.isfinite(float(block.sum())):
            self.nonfinite_blocks += 1
            for lo, hi, _ in self.out_rows:
                out[lo:hi, :n] = 0.0
            return
        aligned, duration = self._aligned, n / self.host_rate
        for node, mode, key, outs in self.plan:
            node.push(block if mode == 0 else aligned[key], duration)
            for okey, aligner in outs:
                aligned[okey] = aligner.push(node.produced[okey[1]], n)
        for lo, hi, key in self.out_rows:
            out[lo:hi, :n] = aligned[key]
