"""The receiver examples are well-formed: Max patcher JSON and the Pd patch's wiring (no Max here)."""
from __future__ import annotations

import json
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_max_patch_is_valid_json_and_wired():
    patcher = json.loads((EXAMPLES / "max" / "rtmir_receive.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    assert len(boxes) == len(patcher["boxes"]), "box ids must be unique (Max wires lines by id)"
    texts = {b.get("text", "") for b in boxes.values()}
    assert {"udpreceive 9000", "unpack f f f"} <= texts
    assert any(t.startswith("route /rtmir/pitch /rtmir/tags") for t in texts)
    for line in patcher["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert outlet < boxes[src]["numoutlets"] and inlet < boxes[dst]["numinlets"], line
        assert len(boxes[src].get("outlettype", [])) == boxes[src]["numoutlets"]
    by_text = {b.get("text"): i for i, b in boxes.items()}
    outs = {}  # (box, outlet) -> destination boxes
    for line in patcher["lines"]:
        outs.setdefault(tuple(line["patchline"]["source"]), []).append(line["patchline"]["destination"][0])
    unpacks = [i for i, b in boxes.items() if b.get("text") == "unpack f f f"]
    assert len(unpacks) == 2  # pitch and the generator's state
    for unpack in unpacks:
        flonums = [d for k in range(3) for d in outs.get((unpack, k), [])]
        assert len(set(flonums)) == 3 and all(boxes[i]["maxclass"] == "flonum" for i in flonums)
    # the tags view: /rtmir/tag/<family> for every family of the tagger, each to its own slider
    from training.synth.activity import TAGS

    tag_route = next(i for t, i in by_text.items() if t and t.startswith("route /rtmir/tag/"))
    assert boxes[tag_route]["text"].split()[1:] == [f"/rtmir/tag/{t}" for t in TAGS]
    sliders = {l["patchline"]["source"][1]: boxes[l["patchline"]["destination"][0]]["maxclass"]
               for l in patcher["lines"] if l["patchline"]["source"][0] == tag_route}
    assert all(sliders[k] == "slider" for k in range(len(TAGS))) and sliders[len(TAGS)] == "newobj"
    # the stems view: /rtmir/sep/<stem> for the separator's four stems, each to a -60..0 dB slider
    sep_route = next(i for t, i in by_text.items() if t and t.startswith("route /rtmir/sep/"))
    assert boxes[sep_route]["text"].split()[1:] == [f"/rtmir/sep/{s}" for s in ("drums", "bass", "other", "melody")]
    meters = [boxes[l["patchline"]["destination"][0]] for l in patcher["lines"]
              if l["patchline"]["source"] == [sep_route, 0] or l["patchline"]["source"][0] == sep_route]
    assert [m["maxclass"] for m in meters].count("slider") == 4 and all(m.get("min") == -60.0 for m in meters[:4])
    # the codec view: tokens to a message box, stages and lost to numbers
    codec_route = next(i for t, i in by_text.items() if t and t.startswith("route /rtmir/codec/"))
    assert boxes[codec_route]["text"].split()[1:] == ["/rtmir/codec/tokens", "/rtmir/codec/stages", "/rtmir/codec/lost"]
    assert {l["patchline"]["source"][1] for l in patcher["lines"] if l["patchline"]["source"][0] == codec_route} == {0, 1, 2, 3}
    # the generate view: /rtmir/generate/state playing position takes -> unpack f f f (three numbers)
    # and /rtmir/generate/live tokens/s buffer-ahead-ms -> unpack f f (two numbers)
    gen_route = by_text["route /rtmir/generate/state /rtmir/generate/live"]
    assert [boxes[d]["text"] for d in outs[(gen_route, 0)]] == ["unpack f f f"]
    (live,) = outs[(gen_route, 1)]
    assert boxes[live]["text"] == "unpack f f"
    assert all(boxes[d]["maxclass"] == "flonum" for k in range(2) for d in outs[(live, k)])
    # one chain: each route's reject outlet feeds the next view, the last one [print rtmir-other]
    chain, box = [], by_text["udpreceive 9000"]
    while True:
        (box,) = outs[(box, boxes[box]["numoutlets"] - 1)]
        if not boxes[box]["text"].startswith("route "):
            break
        chain.append(boxes[box]["text"].split()[1])
    assert chain == ["/rtmir/pitch", "/rtmir/tag/piano", "/rtmir/sep/drums", "/rtmir/codec/tokens", "/rtmir/generate/state",
                     "/rtmir/note"]
    # the notes view: /rtmir/note on pitch velocity stem -> three numbers and the stem's name
    note_route = by_text["route /rtmir/note"]
    (unpack,) = outs[(note_route, 0)]
    assert boxes[unpack]["text"] == "unpack i i i s"
    assert [boxes[d]["maxclass"] for k in range(4) for d in outs[(unpack, k)]] == ["number"] * 3 + ["message"]
    assert boxes[box]["text"] == "print rtmir-other"


def test_pd_patch_wiring_and_default_port():
    lines = [l for l in (EXAMPLES / "pd" / "rtmir_receive.pd").read_text().split(";\n") if l.strip()]
    assert lines[0].startswith("#N canvas")
    objects = [l for l in lines[1:] if not l.startswith("#X connect")]
    assert objects[0].startswith("#X obj") and "netreceive -u -b" in objects[0]
    assert any(re.fullmatch(r"#X msg \d+ \d+ 9000", o) for o in objects)  # the default port
    for conn in (l for l in lines if l.startswith("#X connect")):
        src, _, dst, _ = map(int, conn.split()[2:6])
        assert src < len(objects) and dst < len(objects), conn
    from training.synth.activity import TAGS  # the tags view has a bar for every family of the tagger

    assert any(o.endswith("route " + " ".join(TAGS)) for o in objects)
    assert sum(" hsl " in o for o in objects) == len(TAGS) + 4  # and a meter per stem
    assert any(o.endswith("route drums bass other melody") for o in objects)
    assert any(o.endswith("route pitch tags tag status sep codec generate note") for o in objects)
    assert any(o.endswith("route tokens stages lost") for o in objects)  # the codec view
    # the generate view: [route ... generate] -> [s rtmir-gen]; [r rtmir-gen] -> [route state live]:
    # state -> three numbers, live -> two (tokens/s, buffer ahead ms)
    index = {o.split(" ", 4)[-1]: i for i, o in enumerate(objects) if o.startswith("#X obj")}
    conns = {tuple(map(int, l.split()[2:6])) for l in lines if l.startswith("#X connect")}
    top, state = index["route pitch tags tag status sep codec generate note"], index["route state live"]
    assert (top, 6, index["s rtmir-gen"], 0) in conns and not any(c[:2] == (top, 8) for c in conns)
    # the notes view: note -> [print rtmir-noteview] and [unpack f f f s] -> on, pitch, velocity
    assert (top, 7, index["print rtmir-noteview"], 0) in conns
    unpack = index["unpack f f f s"]
    assert (top, 7, unpack, 0) in conns and {c[1] for c in conns if c[0] == unpack} == {0, 1, 2}
    assert (index["r rtmir-gen"], 0, state, 0) in conns
    unpacks = [i for i, o in enumerate(objects) if o.endswith(" unpack f f f")]
    gen_unpack = next(u for u in unpacks if (state, 0, u, 0) in conns)
    assert sorted((o, objects[d].split()[1]) for s, o, d, _ in conns if s == gen_unpack) == [
        (0, "floatatom"), (1, "floatatom"), (2, "floatatom")]
    live_unpack = next(i for i, o in enumerate(objects) if o.endswith(" unpack f f") and (state, 1, i, 0) in conns)
    assert sorted((o, objects[d].split()[1]) for s, o, d, _ in conns if s == live_unpack) == [
        (0, "floatatom"), (1, "floatatom")]
