"""Shrink an exported graph by computing large analytic constants at load instead of storing them.

The conv log-mel frontend (``models.frontend``, ``method="conv"``) stores a windowed DFT basis
``[2K, 1, W]`` (cos rows, then -sin rows, times a periodic Hann window): 4.2 MB of float32 for
``W = 1024``, more than the rest of a tagger. ``compute_dft_bases`` replaces each such initializer
with a few nodes (Range, Mul, Mod, Cos, Sin) that ONNX Runtime folds into the same tensor when the
session is created. The phase is reduced modulo ``W`` in integers before the float cosine, so the
computed basis matches the stored one to float32 rounding (checked here before replacing: a
tensor that is not exactly this basis is left stored).
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SUFFIX = "dft_basis"
MATCH_TOLERANCE = 1e-5


SQRT_SUFFIX = "analysis_basis"
"""The causal STFT's basis (``models.stft.StreamingSTFT``): the same, windowed by ``sqrt(hann)``."""


def windowed_dft_basis(window: int, sqrt: bool = False) -> np.ndarray:
    """The conv frontend's basis for a ``window``-sample frame: ``[2K, 1, W]`` float32, ``K = W//2+1``
    (``sqrt``: windowed by the square root of the periodic Hann window, as the causal STFT's)."""
    t = np.arange(window)
    k = np.arange(window // 2 + 1)[:, None]
    phase = 2 * np.pi * ((k * t) % window) / window
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * t / window)
    if sqrt:
        hann = np.sqrt(hann)
    return (np.concatenate([np.cos(phase), -np.sin(phase)]) * hann).astype(np.float32)[:, None, :]


def _basis_nodes(name: str, window: int, sqrt: bool = False) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes computing ``windowed_dft_basis(window, sqrt)`` into the tensor ``name``."""
    p = f"{name}__gen"
    consts = {
        "zero": np.array(0, np.int64), "one": np.array(1, np.int64), "w": np.array(window, np.int64),
        "k": np.array(window // 2 + 1, np.int64), "step": np.array(2 * math.pi / window, np.float32),
        "half": np.array(0.5, np.float32), "axis1": np.array([1], np.int64),
    }
    inits = [numpy_helper.from_array(v, f"{p}_c_{key}") for key, v in consts.items()]
    c = {key: f"{p}_c_{key}" for key in consts}
    n = helper.make_node
    nodes = [
        n("Range", [c["zero"], c["w"], c["one"]], [f"{p}_t"]),  # [W]
        n("Range", [c["zero"], c["k"], c["one"]], [f"{p}_k"]),  # [K]
        n("Unsqueeze", [f"{p}_k", c["axis1"]], [f"{p}_kcol"]),  # [K, 1]
        n("Mul", [f"{p}_kcol", f"{p}_t"], [f"{p}_kt"]),  # [K, W] int64
        n("Mod", [f"{p}_kt", c["w"]], [f"{p}_ktm"]),
        n("Cast", [f"{p}_ktm"], [f"{p}_ktf"], to=TensorProto.FLOAT),
        n("Mul", [f"{p}_ktf", c["step"]], [f"{p}_phase"]),
        n("Cos", [f"{p}_phase"], [f"{p}_cos"]),
        n("Sin", [f"{p}_phase"], [f"{p}_sin"]),
        n("Neg", [f"{p}_sin"], [f"{p}_nsin"]),
        n("Concat", [f"{p}_cos", f"{p}_nsin"], [f"{p}_trig"], axis=0),  # [2K, W]
        n("Cast", [f"{p}_t"], [f"{p}_tf"], to=TensorProto.FLOAT),
        n("Mul", [f"{p}_tf", c["step"]], [f"{p}_wphase"]),
        n("Cos", [f"{p}_wphase"], [f"{p}_wcos"]),
        n("Mul", [f"{p}_wcos", c["half"]], [f"{p}_whalf"]),
        n("Sub", [c["half"], f"{p}_whalf"], [f"{p}_hann"]),  # periodic Hann [W]
        *([n("Sqrt", [f"{p}_hann"], [f"{p}_sqrthann"])] if sqrt else []),
        n("Mul", [f"{p}_trig", f"{p}_sqrthann" if sqrt else f"{p}_hann"], [f"{p}_basis"]),
        n("Unsqueeze", [f"{p}_basis", c["axis1"]], [name]),  # [2K, 1, W]
    ]
    return nodes, inits


def compute_dft_bases(proto: onnx.ModelProto) -> list[str]:
    """Replace every stored windowed DFT basis in ``proto`` (in place) by nodes computing it.

    Returns the names replaced. An initializer named ``*dft_basis`` (Hann) or ``*analysis_basis``
    (sqrt-Hann, the causal STFT's) that differs from ``windowed_dft_basis`` by more than 1e-5 is
    left as it is.
    """
    graph = proto.graph
    replaced = []
    for init in list(graph.initializer):
        dims = list(init.dims)
        sqrt = init.name.endswith(SQRT_SUFFIX)
        if not ((init.name.endswith(SUFFIX) or sqrt) and len(dims) == 3 and dims[1] == 1
                and dims[0] == 2 * (dims[2] // 2 + 1)):
            continue
        stored = numpy_helper.to_array(init)
        if np.abs(stored - windowed_dft_basis(dims[2], sqrt)).max() > MATCH_TOLERANCE:
            continue
        nodes, inits = _basis_nodes(init.name, dims[2], sqrt)
        graph.initializer.remove(init)
        graph.initializer.extend(inits)
        for i, node in enumerate(nodes):
            graph.node.insert(i, node)
        replaced.append(init.name)
    return replaced


def strip_node_metadata(proto: onnx.ModelProto) -> int:
    """Drop the exporter's per-node debugging records (``metadata_props``: the torch stack trace,
    FX node and name scopes; ``doc_string``), which do not change what the graph computes (about
    1.5 kB per node: 0.3 MB of a 200-node Transformer). Returns the bytes removed."""
    before = proto.ByteSize()
    for graph in [proto.graph] + [a.g for n in proto.graph.node for a in n.attribute if a.HasField("g")]:
        for node in graph.node:
            del node.metadata_props[:]
            node.doc_string = ""
    return before - proto.ByteSize()
