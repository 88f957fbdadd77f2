"""The codec task on the training core: model, loss, batches, validation, checkpoint.

Loss per batch: ``MultiScaleMelLoss`` of the decoded audio against the input ``W - H`` samples
earlier, plus ``commitment_weight`` times the RVQ commitment loss. Quantizer dropout: each item
keeps every stage with ``full_prob``, else a uniform 1..n_q-1 stages. The codebooks learn by EMA
after each loss (``RVQ.ema_update``, dead codes restarted), after a k-means start on the latents
of the first ``kmeans_batches`` batches. Validation codes whole MuseScore_General mixes offline at
each bitrate (1, 2 and all stages) and scores the issue's mel distance; the score is minus the
distance at the highest bitrate.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from export.checkpoint import save_checkpoint
from models.spectral_codec import SpectralCodec, stage_kbps
from training.core.distributed import make_loader
from training.core.task import Validation, warm_started
from training.separate.data import StemClips

from .config import CodecTrainConfig
from .crops import CodecCrops
from .losses import MultiScaleMelLoss
from .metrics import mel_distance


def validation_stages(n_quantizers: int) -> tuple[int, ...]:
    """The stage counts validated: 1, 2 and all (the issue's 1.5 / 3 / 6 kbps at the defaults)."""
    return tuple(sorted({1, min(2, n_quantizers), n_quantizers}))


@torch.no_grad()
def code(model: SpectralCodec, audio: np.ndarray, stages: int) -> np.ndarray:
    """Encode and decode ``audio [n]`` offline keeping the first ``stages`` stages; the output is
    aligned with the input (the latency taken out) and as long."""
    model.eval()
    d, hop = model.latency_samples, model.hop
    n = -(-(len(audio) + d) // hop) * hop
    x = np.zeros(n, np.float32)
    x[:len(audio)] = audio
    tokens, _ = model.encode(torch.from_numpy(x)[None, None])
    tokens[:, stages:] = model.config.rvq.codebook_size  # the stages left out
    out, _ = model.decode(tokens)
    return out[0, 0, d:d + len(audio)].numpy()


class CodecTask:
    """``training.core.task.Task`` for the spectral codec.

    Args:
        config: the run's config. train, val: grouped stems (``training.separate.data.load_stems``).
    """

    def __init__(self, config: CodecTrainConfig, train: StemClips, val: StemClips):
        self.config, self.train, self.val = config, train, val
        self.mel = MultiScaleMelLoss(config.model.sample_rate, config.loss_ffts)
        self.generator = torch.Generator().manual_seed(config.seed + 1)
        self._loader: DataLoader | None = None
        self._kmeans_pool: list[torch.Tensor] = []
        self.restarts = 0

    def build_model(self) -> SpectralCodec:
        """A fresh model, or ``init_checkpoint``'s weights (same model config, else ValueError)."""
        return warm_started(SpectralCodec(self.config.model), self.config.init_checkpoint)

    def batches(self, model: SpectralCodec) -> DataLoader:
        if self._loader is None:
            c = self.config
            crops = CodecCrops(self.train, c.crop_s, model.sample_rate, model.hop, c.augment, c.solo_prob, c.level_dbfs)
            self._loader = make_loader(crops, batch_size=c.batch_size, shuffle=True,
                                       drop_last=len(crops) >= c.batch_size, num_workers=c.loader_workers,
                                       persistent_workers=c.loader_workers > 0, seed=c.seed)
        return self._loader

    def _active(self, batch: int, n_q: int) -> torch.Tensor:
        full = torch.rand(batch, generator=self.generator) < self.config.full_prob
        fewer = torch.randint(1, max(2, n_q), (batch,), generator=self.generator)
        return torch.where(full, torch.full_like(fewer, n_q), fewer)

    @staticmethod
    def _never_updated(model: SpectralCodec) -> bool:
        """True while the codebooks still hold their construction (no EMA step, no k-means)."""
        return all(bool((s.cluster_size == 1).all()) and bool((s.embed_sum == s.codebook).all())
                   for s in model.rvq.stages)

    def loss(self, model: SpectralCodec, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        model.train()
        rvq = model.rvq
        if self._never_updated(model) or self._kmeans_pool:
            with torch.no_grad():  # k-means start: pool the first batches' latents
                latent, _ = model._encode_frames(batch, model.fresh(batch, None))
            self._kmeans_pool.append(latent)
            if len(self._kmeans_pool) >= self.config.kmeans_batches:
                rvq.kmeans_init(torch.cat(self._kmeans_pool), self.generator)
                self._kmeans_pool = []
        d = model.latency_samples
        n_active = self._active(batch.shape[0], rvq.config.n_quantizers)
        out, result = model.train_forward(batch, n_active)
        mel = self.mel(batch[:, 0, :-d], out[:, 0, d:])
        loss = mel + self.config.commitment_weight * result.commitment_loss
        if not self._kmeans_pool:
            self.restarts += rvq.ema_update(result, self.generator)
        return loss, {"mel": float(mel.detach()), "commit": float(result.commitment_loss.detach()),
                      "restarts": float(self.restarts)}

    def validate(self, model: SpectralCodec) -> Validation:
        stages = validation_stages(model.config.rvq.n_quantizers)
        per = {s: [] for s in stages}
        for i in range(len(self.val.stems)):
            mix = self.val.clip(i).sum(axis=0)
            for s in stages:
                per[s].append(mel_distance(mix, code(model, mix, s), model.sample_rate))
        kbps = stage_kbps(model.config)
        figures = {f"mel_{s * kbps:g}kbps": float(np.mean(v)) for s, v in per.items()}
        usage = codebook_usage(model, self.val)
        figures.update(usage)
        return Validation({"clean": figures}, -figures[f"mel_{stages[-1] * kbps:g}kbps"])

    def save_best(self, model: SpectralCodec, path: Path, record: dict[str, Any]) -> Path:
        return save_checkpoint(model, path, training=record)


@torch.no_grad()
def codebook_usage(model: SpectralCodec, clips: StemClips) -> dict[str, float]:
    """Per stage, the perplexity of its codes over the mixes of ``clips`` (in codes; at most
    ``codebook_size``) and the fraction of entries used at least once."""
    model.eval()
    counts = torch.zeros(model.config.rvq.n_quantizers, model.config.rvq.codebook_size)
    for i in range(len(clips.stems)):
        mix = clips.clip(i).sum(axis=0)
        n = len(mix) // model.hop * model.hop
        tokens, _ = model.encode(torch.from_numpy(mix[:n].copy())[None, None])
        for q in range(counts.shape[0]):
            counts[q] += torch.bincount(tokens[0, q], minlength=counts.shape[1]).float()
    p = counts / counts.sum(dim=1, keepdim=True)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1)
    out = {f"perplexity_{q + 1}": float(torch.exp(entropy[q])) for q in range(counts.shape[0])}
    out["used_fraction"] = float((counts > 0).float().mean())
    return out
