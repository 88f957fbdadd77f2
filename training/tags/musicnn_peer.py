"""musicnn (Pons & Serra, MTT_musicnn, weights in its 0.1.0 wheel) as a tagging peer, run in its own venv.

musicnn needs TensorFlow, which the project's environments never hold, so ``training.tags.evaluate
--musicnn-python PY`` runs this file with the Python of a separate venv (standard library, numpy,
librosa, tensorflow-cpu, tf-keras and musicnn; no project imports)::

    python3 -m venv /opt/musicnn && /opt/musicnn/bin/pip install tensorflow-cpu==2.21.0 librosa soundfile
    /opt/musicnn/bin/pip install --no-deps tf-keras==2.21.0 musicnn==0.1.0   # --no-deps: tf-keras would pull full tensorflow

Two things make musicnn 0.1.0 run correctly on TensorFlow 2.21 (checked: with them it gives its
README's published top-10 tags for its own example clip exactly):

- ``TF_USE_LEGACY_KERAS=1`` with tf-keras (its ``tf.compat.v1.layers`` need Keras 2);
- its log-mel is computed in float16, which overflows to inf where the mel power exceeds ~6.5
  (ordinary music), and a patch holding an inf gives a constant output: ``batch_data`` is
  replaced by the same computation in float32.

Usage: ``PY musicnn_peer.py --out OUT.npz [--input-length 3] [--hop 1] WAV...``. Writes
``taggram_<i>`` (``[patches, 50]``), ``end_s_<i>`` (each patch's last instant, seconds),
``labels`` (the 50 MTT tags) and ``cpu_s`` (process CPU of the inference, start-up excluded).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
import warnings


def patch_musicnn():
    """Import musicnn with the two fixes above; returns ``(extractor, configuration)``."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")
    import librosa
    import musicnn.extractor as ex
    import numpy as np
    from musicnn import configuration as cfg

    def batch_data(audio_file, n_frames, overlap):
        audio, sr = librosa.load(audio_file, sr=cfg.SR)
        rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=cfg.FFT_HOP, n_fft=cfg.FFT_SIZE,
                                             n_mels=cfg.N_MELS).T
        rep = np.log10(10000 * rep.astype(np.float32) + 1)
        starts = range(0, rep.shape[0] - n_frames + 1, overlap)
        if len(starts) == 0:
            raise ValueError(f"{audio_file}: shorter than one patch")
        return np.stack([rep[s:s + n_frames] for s in starts]), rep

    ex.batch_data = batch_data
    return ex.extractor, cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--input-length", type=float, default=3.0, help="patch length, s (MTT_musicnn was trained on 3)")
    ap.add_argument("--hop", type=float, default=1.0, help="seconds between patches (musicnn's input_overlap)")
    ap.add_argument("wavs", nargs="+")
    args = ap.parse_args()
    extractor, cfg = patch_musicnn()
    import librosa
    import numpy as np

    out, cpu = {}, 0.0
    n_fft_frames = librosa.time_to_frames(args.input_length, sr=cfg.SR, n_fft=cfg.FFT_SIZE, hop_length=cfg.FFT_HOP) + 1
    hop_frames = librosa.time_to_frames(args.hop, sr=cfg.SR, n_fft=cfg.FFT_SIZE, hop_length=cfg.FFT_HOP)
    for i, wav in enumerate(args.wavs):
        t0 = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # musicnn prints progress
            taggram, labels = extractor(wav, model="MTT_musicnn", input_length=args.input_length,
                                        input_overlap=args.hop, extract_features=False)
        cpu += time.process_time() - t0
        ends = (np.arange(len(taggram)) * hop_frames + n_fft_frames) * cfg.FFT_HOP / cfg.SR
        out[f"taggram_{i}"], out[f"end_s_{i}"] = np.asarray(taggram, np.float32), ends
    np.savez(args.out, labels=np.array(labels), cpu_s=cpu, **out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
