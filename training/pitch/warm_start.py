"""Start a larger pitch model from a trained smaller one without changing what it computes.

``grow_into(model, old)`` copies every weight of ``old`` into the leading slices of ``model``'s
(same names; any dimension may be larger, none smaller) and zeroes what would make the grown
model's outputs differ at step 0:

- layers that write into the residual stream (``proj``, ``front_out``, each block's ``proj``)
  get zeros everywhere outside the copied slice, so new stream channels start at 0 and new
  hidden units add nothing;
- layers that only read the stream (block convs, ``front``, the head) keep their random init
  outside the slice: they read channels that are 0, so they change nothing yet, and they give
  the new channels a gradient to grow along.

Parameters ``old`` lacks (e.g. a new ``front`` branch) keep their init, except stream writers,
which start at zero. The result is checked: grown and old outputs agree (``check_same``).
"""
from __future__ import annotations

import torch
from torch import nn

STREAM_WRITERS = ("proj.", "front_out.")  # name prefixes / infixes of layers whose output is added to the stream


def _writes_stream(name: str) -> bool:
    return name.startswith(STREAM_WRITERS) or (".proj." in name and name.startswith("tcn."))


@torch.no_grad()
def grow_into(model: nn.Module, old: nn.Module) -> list[str]:
    """Copy ``old``'s weights into ``model`` (function-preserving); returns the names grown or added.

    Raises:
        ValueError: a tensor of ``old`` is larger than ``model``'s or has another rank.
    """
    old_sd, changed = old.state_dict(), []
    for name, param in model.state_dict().items():
        src = old_sd.get(name)
        if src is None:
            if _writes_stream(name):
                param.zero_()
            changed.append(name)
            continue
        if src.dim() != param.dim() or any(a > b for a, b in zip(src.shape, param.shape)):
            raise ValueError(f"cannot grow {name} from {tuple(src.shape)} to {tuple(param.shape)}")
        if src.shape == param.shape:
            param.copy_(src)
            continue
        if name.startswith("spectra."):
            raise ValueError(f"cannot grow {name}: the frontends differ")
        if _writes_stream(name):
            param.zero_()
        param[tuple(slice(0, n) for n in src.shape)] = src
        changed.append(name)
    return changed


@torch.no_grad()
def check_same(model: nn.Module, old: nn.Module, samples: int = 16000, atol: float = 1e-5) -> float:
    """Max abs difference of the two models' logits on a fixed noise+tone clip; raises if > ``atol``."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(samples) / 16000.0
    x = (0.3 * torch.sin(2 * torch.pi * 220.0 * t) + 0.05 * torch.randn(samples, generator=g))[None, None]
    a, _ = model.logits(x)
    b, _ = old.logits(x)
    diff = float((a - b).abs().max())
    if diff > atol:
        raise ValueError(f"grown model differs from its source by {diff:.3g} (> {atol})")
    return diff
