"""The mask separator: perfect reconstruction through its STFT, the declared latency, consistent
masks summing to the mix, streaming = offline and causality, and an ONNX export the runtime streams."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from export.api import CardFields, export_model
from export.verify import VerifyOptions, verify_torch
from models import build_model
from models.separator import STEMS, MaskSeparator, SeparatorConfig

pytestmark = pytest.mark.torch

SMALL = SeparatorConfig(width=16, num_layers=1, dilations=(1, 2))


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _all_pass(model: MaskSeparator) -> MaskSeparator:
    """Every mask 1 (sigmoid of a large bias): each stem must be the input, delayed."""
    head = model.net.layers["head"]
    conv = head.module if hasattr(head, "module") else head
    with torch.no_grad():
        for p in conv.parameters():
            p.zero_()
        conv.bias.fill_(30.0)
    return model.eval()


@pytest.mark.parametrize("n_fft, hop", [(256, 64), (256, 128), (512, 128)])
def test_all_pass_masks_give_the_input_latency_samples_later(n_fft: int, hop: int) -> None:
    model = _all_pass(MaskSeparator(SeparatorConfig(n_fft=n_fft, hop_size=hop, width=8, num_layers=1)))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(hop * 60).astype(np.float32))[None, None]
    *stems, _ = model(x)
    d = model.latency_samples
    assert d == n_fft - hop
    for s in stems:  # from the first sample on: the zero cache is the silence before the stream
        np.testing.assert_allclose(s[0, 0, d:].numpy(), x[0, 0, :-d].numpy(), atol=2e-5)
        np.testing.assert_allclose(s[0, 0, :d].numpy(), 0.0, atol=1e-6)


def test_a_click_comes_out_exactly_latency_samples_later() -> None:
    model = _all_pass(MaskSeparator(SMALL))
    x = torch.zeros(1, 1, 64 * 20)
    x[0, 0, 300] = 1.0
    drums = model(x)[0][0, 0].numpy()
    assert int(np.argmax(np.abs(drums))) == 300 + 192 and drums[300 + 192] == pytest.approx(1.0, abs=1e-5)


def test_consistent_masks_sum_to_the_mix() -> None:
    torch.manual_seed(0)
    model = MaskSeparator(SeparatorConfig(width=16, num_layers=1, masks="consistent")).eval()
    x = torch.randn(2, 1, 64 * 40)
    *stems, _ = model(x)
    total = sum(stems)
    np.testing.assert_allclose(total[..., 192:].detach().numpy(), x[..., :-192].numpy(), atol=5e-5)
    assert not torch.allclose(stems[0], stems[1])  # and the stems differ


@pytest.mark.parametrize("body", ["gru", "tcn"])
def test_streaming_equals_offline_and_causal(body: str) -> None:
    torch.manual_seed(1)
    model = MaskSeparator(SeparatorConfig(body=body, width=16, num_layers=2, dilations=(1, 2, 4))).eval()
    report = verify_torch(model, VerifyOptions(n_hops=96, block_hops=(1, 3, 17), tolerance=1e-4))
    assert report and max(report.values()) <= 1e-4


def test_registered_and_outputs_named_by_stem() -> None:
    model = build_model("separator", SMALL)
    assert [o.name for o in model.outputs] == list(STEMS)
    assert all(o.unit == "audio" and o.per_hop == model.hop for o in model.outputs)


@pytest.mark.parametrize("bad, match", [(dict(masks="relu"), "masks must be"), (dict(body="cnn"), "body must be"),
                                        (dict(n_fft=256, hop_size=96), "2 or 4 hops")])
def test_bad_configs_are_refused(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MaskSeparator(SeparatorConfig(**bad))


def test_export_streams_in_the_runtime(tmp_path) -> None:
    from rtmir.session import StreamingSession

    torch.manual_seed(2)
    model = MaskSeparator(SMALL).eval()
    path = tmp_path / "sep.onnx"
    card = export_model(model, CardFields(name="sep", task="separate"), path)
    assert card.latency_samples == 192 and [o.name for o in card.outputs] == list(STEMS)
    x = np.random.default_rng(3).standard_normal((1, 64 * 30)).astype(np.float32)
    with torch.no_grad():
        ref = [s[0].numpy() for s in model(torch.from_numpy(x)[None])[:-1]]
    session = StreamingSession(path)
    got = {name: [] for name in STEMS}
    for i in range(0, x.shape[1], 64 * 7):  # uneven chunks of whole hops
        outs = session.step({"audio": x[:, i:i + 64 * 7]})
        for name in STEMS:
            got[name].append(outs[name][0].copy())  # views, valid until the next step
    for name, r in zip(STEMS, ref):
        np.testing.assert_allclose(np.concatenate(got[name], axis=-1), r, atol=1e-4)
