"""The classic baseline tagger: MFCC and spectral statistics over a causal window -> one logistic
regression per family (scikit-learn), trained on the same training pieces as the model.

Features every 20 ms (librosa, 16 kHz, 1024-sample frames ending at each hop, ``center=False``):
20 MFCCs, spectral centroid, bandwidth, flatness, 85 % roll-off and zero-crossing rate; their mean
and standard deviation over the last ``WINDOW_S`` (what a frame-statistics tagger sees), 50
values. A frame's estimate is available at the end of its window, so its instant is that end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 320
N_FFT = 1024
WINDOW_S = 1.0


def frame_features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``audio [n]`` 16 kHz -> ``(times_s [T], features [T, 25])``: per-hop descriptors, each
    frame stamped at the last sample of its window."""
    import librosa

    x = np.asarray(audio, np.float32)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    kw = {"n_fft": N_FFT, "hop_length": HOP, "center": False}
    spec = np.abs(librosa.stft(x, **kw)) ** 2
    mel = librosa.feature.melspectrogram(S=spec, sr=SAMPLE_RATE, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel + 1e-10), n_mfcc=20)
    mag = np.sqrt(spec)
    rows = [mfcc, librosa.feature.spectral_centroid(S=mag, sr=SAMPLE_RATE) / 1000.0,
            librosa.feature.spectral_bandwidth(S=mag, sr=SAMPLE_RATE) / 1000.0,
            librosa.feature.spectral_flatness(S=mag), librosa.feature.spectral_rolloff(S=mag, sr=SAMPLE_RATE) / 1000.0,
            librosa.feature.zero_crossing_rate(x, frame_length=N_FFT, hop_length=HOP, center=False)]
    t = min(r.shape[1] for r in rows)
    feats = np.concatenate([r[:, :t] for r in rows]).T  # [T, 25]
    times = (N_FFT + HOP * np.arange(t)) / SAMPLE_RATE
    return times, feats


def window_statistics(feats: np.ndarray) -> np.ndarray:
    """``[T, D]`` -> ``[T, 2D]``: mean and standard deviation over the last ``WINDOW_S`` of frames
    (fewer at the start)."""
    w = int(round(WINDOW_S * SAMPLE_RATE / HOP))
    c1 = np.cumsum(np.pad(feats, ((1, 0), (0, 0))), axis=0)
    c2 = np.cumsum(np.pad(feats.astype(np.float64) ** 2, ((1, 0), (0, 0))), axis=0)
    end = np.arange(1, len(feats) + 1)
    start = np.maximum(0, end - w)
    n = (end - start)[:, None]
    mean = (c1[end] - c1[start]) / n
    var = np.maximum((c2[end] - c2[start]) / n - mean ** 2, 0.0)
    return np.concatenate([mean, np.sqrt(var)], axis=1)


def features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``audio [n]`` 16 kHz -> ``(times_s [T], X [T, 50])`` (module docstring)."""
    times, f = frame_features(audio)
    return times, window_statistics(f)


@dataclass
class BaselineTagger:
    """Standardised features -> one logistic regression per family (``fit`` then ``predict``)."""

    names: tuple[str, ...]
    models: list | None = None
    scaler: object | None = None

    def fit(self, xs: list[np.ndarray], ys: list[np.ndarray], every: int = 5, seed: int = 0) -> BaselineTagger:
        """Train on clips: ``xs`` audio ``[n]`` 16 kHz, ``ys`` labels ``[n_tags, frames]`` at 100
        frames/s (each feature frame against the label at its instant); every ``every``-th frame.
        A family with one class only in the data predicts that class's rate."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        feats, targets = [], []
        for x, y in zip(xs, ys):
            times, f = features(x)
            idx = np.clip(np.round(times * 100).astype(int), 0, y.shape[1] - 1)
            feats.append(f[::every])
            targets.append(y[:, idx][:, ::every].T)
        X, Y = np.concatenate(feats), np.concatenate(targets) > 0.5
        self.scaler = StandardScaler().fit(X)
        Xs = self.scaler.transform(X)
        self.models = []
        for j in range(len(self.names)):
            if Y[:, j].all() or not Y[:, j].any():
                self.models.append(float(Y[:, j].mean()))
            else:
                self.models.append(LogisticRegression(max_iter=1000, C=1.0, random_state=seed).fit(Xs, Y[:, j]))
        return self

    def predict(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``audio [n]`` 16 kHz -> ``(times_s [T], probabilities [n_tags, T])``."""
        times, f = features(audio)
        Xs = self.scaler.transform(f)
        probs = np.stack([np.full(len(Xs), m) if isinstance(m, float) else m.predict_proba(Xs)[:, 1]
                          for m in self.models])
        return times, probs
