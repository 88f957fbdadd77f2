"""Residual vector quantizer: k-means init, EMA codebooks, dead-code restart, commitment loss.

Stage q quantizes what the previous stages left over::

    r_0 = x;  c_q = argmin_k |r_q - E_q[k]|^2;  r_{q+1} = r_q - E_q[c_q];  x_hat = sum_q E_q[c_q]

Quantization is frame-wise, so the quantizer has no streaming state: streaming = offline by
construction, and the codes of a chunk depend only on that chunk's frames. ``decode`` reads the
code ``codebook_size`` as a stage left out (lower bitrates send fewer stages).

Training-time codebook learning is explicit, never hidden in ``forward``: call
``kmeans_init(x)`` once on a first batch, then ``ema_update(result)`` after each step with the
``RVQResult`` of that step. These two methods write the codebook buffers (under ``no_grad``);
``forward``/``encode``/``decode`` never write anything.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class RVQConfig:
    dim: int = 64  # vector size (channels of the latent)
    n_quantizers: int = 8  # residual stages
    codebook_size: int = 1024  # entries per stage
    decay: float = 0.99  # EMA decay of cluster sizes and sums
    dead_threshold: float = 1.0  # EMA cluster size under which a code is restarted
    kmeans_iters: int = 10  # Lloyd iterations of kmeans_init
    epsilon: float = 1e-5  # Laplace smoothing of cluster sizes


@dataclass
class RVQResult:
    """What one quantization pass produced.

    Attributes:
        quantized: ``[B, D, T]`` sum of the chosen entries, straight-through to ``x``.
        codes: ``[B, n_quantizers, T]`` int64.
        commitment_loss: scalar, ``sum_q mean(|r_q - sg(E_q[c_q])|^2)``.
        residuals: the stage inputs ``r_q`` as ``[B*T, D]`` (for ``ema_update``).
    """

    quantized: Tensor
    codes: Tensor
    commitment_loss: Tensor
    residuals: list[Tensor]


def kmeans_plus_plus(x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """k-means++ seeding: ``k`` rows of ``x [N, D]``, each drawn with probability ~ D^2."""
    first = int(torch.randint(0, x.shape[0], (1,), generator=generator))
    centroids = [x[first]]
    closest = (x - x[first]).square().sum(dim=1)  # [N] squared distance to the nearest seed
    for _ in range(1, k):
        weights = closest if float(closest.sum()) > 0 else torch.ones_like(closest)
        pick = int(torch.multinomial(weights, 1, generator=generator))
        centroids.append(x[pick])
        closest = torch.minimum(closest, (x - x[pick]).square().sum(dim=1))
    return torch.stack(centroids)


def kmeans(x: Tensor, k: int, iters: int, generator: torch.Generator | None = None) -> Tensor:
    """Lloyd's k-means on ``x [N, D]`` from k-means++ seeds; returns ``[k, D]`` centroids
    (empty clusters keep their seed)."""
    centroids = kmeans_plus_plus(x, k, generator).clone()
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(dim=1)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


class EMAVectorQuantizer(nn.Module):
    """One codebook ``[codebook_size, dim]`` learned by EMA (no gradient to the codebook).

    ``nearest(x [N, D]) -> codes [N]``; ``lookup(codes) -> [..., D]``.
    """

    def __init__(self, config: RVQConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("codebook", torch.randn(config.codebook_size, config.dim))
        self.register_buffer("cluster_size", torch.ones(config.codebook_size))
        self.register_buffer("embed_sum", self.codebook.clone())

    def nearest(self, x: Tensor) -> Tensor:
        # |x|^2 is the same for every entry of a row: argmin needs only -2 x.E + |E|^2
        scores = self.codebook.square().sum(dim=1) - 2 * x @ self.codebook.t()  # [N, K]
        return scores.argmin(dim=1)

    def lookup(self, codes: Tensor) -> Tensor:
        return F.embedding(codes, self.codebook)

    def lookup_or_zero(self, codes: Tensor) -> Tensor:
        """``lookup``, with the code ``codebook_size`` (a stage left out, e.g. at a lower
        bitrate) looked up as the zero vector."""
        table = torch.cat([self.codebook, self.codebook.new_zeros(1, self.codebook.shape[1])])
        return F.embedding(codes, table)

    @torch.no_grad()
    def set_codebook(self, centroids: Tensor) -> None:
        """Training only: replace the codebook (k-means init), resetting the EMA statistics."""
        self.codebook.copy_(centroids)
        self.embed_sum.copy_(centroids)
        self.cluster_size.fill_(1.0)

    @torch.no_grad()
    def ema_update(self, x: Tensor, codes: Tensor, generator: torch.Generator | None = None) -> int:
        """Training only: one EMA step on stage inputs ``x [N, D]`` and their ``codes [N]``.

        Codes whose EMA cluster size fell under ``dead_threshold`` are restarted on random
        rows of ``x``. Returns the number of restarted codes.
        """
        c = self.config
        onehot = F.one_hot(codes, c.codebook_size).to(x.dtype)  # [N, K]
        self.cluster_size.mul_(c.decay).add_(onehot.sum(0), alpha=1 - c.decay)
        self.embed_sum.mul_(c.decay).add_(onehot.t() @ x, alpha=1 - c.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + c.epsilon) / (n + c.codebook_size * c.epsilon) * n
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < c.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = x[torch.randint(0, x.shape[0], (n_dead,), generator=generator)]
            self.codebook[dead] = pick
            self.embed_sum[dead] = pick * c.dead_threshold
            self.cluster_size[dead] = c.dead_threshold
        return n_dead


class ResidualVectorQuantizer(nn.Module):
    """``n_quantizers`` EMA codebooks applied to successive residuals.

    Args:
        config: see ``RVQConfig``.

    ``encode(x [B, D, T]) -> codes [B, n_q, T]`` (int64); ``decode(codes) -> [B, D, T]``;
    ``forward(x) -> RVQResult`` for training (straight-through estimator). Real-time safe
    apart from torch's allocations; no state.
    """

    def __init__(self, config: RVQConfig) -> None:
        super().__init__()
        self.config = config
        self.stages = nn.ModuleList([EMAVectorQuantizer(config) for _ in range(config.n_quantizers)])
        self.latency_samples = 0

    def forward(self, x: Tensor, n_active: Tensor | None = None) -> RVQResult:
        """Quantize ``x [B, D, T]`` through every stage; with ``n_active [B]`` (int, 1..n_q) item
        ``b``'s ``quantized`` sums only its first ``n_active[b]`` stages (quantizer dropout: one
        model for several bitrates). Codes, residuals and the commitment loss cover every stage."""
        b, d, t = x.shape
        residual = x.transpose(1, 2).reshape(b * t, d)  # [B*T, D]
        total = torch.zeros_like(residual)
        codes, residuals, loss = [], [], x.new_zeros(())
        keep = None if n_active is None else n_active.repeat_interleave(t)[:, None]  # [B*T, 1]
        for i, stage in enumerate(self.stages):
            c = stage.nearest(residual)
            q = stage.lookup(c)
            residuals.append(residual)
            loss = loss + F.mse_loss(residual, q.detach())
            total = total + (q if keep is None else q * (keep > i).to(q.dtype))
            residual = residual - q
            codes.append(c)
        quantized = total.reshape(b, t, d).transpose(1, 2)
        quantized = x + (quantized - x).detach()  # straight-through
        return RVQResult(quantized, torch.stack(codes).reshape(-1, b, t).transpose(0, 1), loss, residuals)

    def encode(self, x: Tensor) -> Tensor:
        """``x [B, D, T] -> codes [B, n_quantizers, T]`` (int64)."""
        b, d, t = x.shape
        residual = x.transpose(1, 2).reshape(b * t, d)
        codes = []
        for stage in self.stages:
            c = stage.nearest(residual)
            residual = residual - stage.lookup(c)
            codes.append(c.reshape(b, t))
        return torch.stack(codes, dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """``codes [B, n_quantizers, T] -> [B, D, T]``: the sum of the chosen entries; a stage
        whose code is ``codebook_size`` (left out) adds nothing."""
        total = self.stages[0].lookup_or_zero(codes[:, 0])  # [B, T, D]
        for q in range(1, len(self.stages)):
            total = total + self.stages[q].lookup_or_zero(codes[:, q])
        return total.transpose(1, 2)

    @torch.no_grad()
    def kmeans_init(self, x: Tensor, generator: torch.Generator | None = None) -> None:
        """Training only: k-means each stage's codebook on ``x [B, D, T]``'s residuals."""
        residual = x.transpose(1, 2).reshape(-1, x.shape[1])
        for stage in self.stages:
            stage.set_codebook(kmeans(residual, self.config.codebook_size, self.config.kmeans_iters, generator))
            residual = residual - stage.lookup(stage.nearest(residual))

    @torch.no_grad()
    def ema_update(self, result: RVQResult, generator: torch.Generator | None = None) -> int:
        """Training only: EMA-update every stage from a ``forward`` result; returns restarts."""
        codes = result.codes.transpose(0, 1).reshape(len(self.stages), -1)  # [n_q, B*T]
        return sum(stage.ema_update(r, c, generator) for stage, r, c in zip(self.stages, result.residuals, codes))
