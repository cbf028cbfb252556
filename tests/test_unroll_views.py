"""Views of an unroll: its repr and HTML, the demo's screen, and diagram(values=True)."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import torch
from seed import seed_record
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._display.diagram_shade import colour
from bilstm_hooks._display.unrolled_text import unrolled_text

SVG = "{http://www.w3.org/2000/svg}"
IMG = Path(__file__).parent.parent / "docs" / "img"


def cells(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if "cell" in r.get("class", "").split()]


# -- text ---------------------------------------------------------------------------------
def test_repr_names_every_tensor_and_the_mask() -> None:
    unrolled = seed_record([4, 6, 2]).unroll()
    assert repr(unrolled) == (
        "Unrolled 'encoder' (LSTM, 2 layers, bidirectional, batch_first=True, packed): every "
        "layer at every token\n"
        "  out    layer=2 direction=2 batch=3 token=6 hidden=4\n"
        "  c      layer=2 direction=2 batch=3 token=6 hidden=4\n"
        "  gates  layer=2 direction=2 gate=4 batch=3 token=6 hidden=4  (input, forget, cell, "
        "output), replayed when first read\n"
        "  mask   batch token: True at valid steps (zeros elsewhere); lengths [4, 6, 2]"
    )
    unrolled.gates  # noqa: B018
    assert "replayed when first read" not in repr(unrolled)


def test_html_has_the_tensors_the_saturation_and_the_shaded_diagram() -> None:
    unrolled = seed_record([4, 6, 2]).unroll(gates=True)
    html = unrolled._repr_html_()
    assert "<b>Unrolled &#x27;encoder&#x27;" in html
    assert "<code>gates</code>" in html
    assert "Gate saturation of" in html
    assert "<svg" in html
    assert "<title>sequence 2, layer 0 forward, token 1: mean h" in html
    assert "<code>gates</code>" in seed_record().unroll()._repr_html_()  # no saturation yet


def test_unrolled_text_fits_one_screen_and_shows_layer_0() -> None:
    record = seed_record()
    text = unrolled_text(record)
    lines = text.splitlines()
    assert len(lines) <= 26
    assert max(map(len, lines)) <= 100
    assert "layer 0, h at every token, sequence 0 (the fused call returns none of it):" in lines
    assert re.search(r"check  agrees with the fused call's out, h_n and c_n: max \|difference\| "
                     r"< 1e-[6-9]\n", text)  # fmt: skip
    h = record.unroll().out.tensor[0, 1, 0]  # layer 0 backward, sequence 0: token hidden
    row = next(line for line in lines if line.startswith("  backward  h0"))
    assert row.split()[2:] == [f"{round(float(v), 2) + 0.0:+.2f}" for v in h[:, 0]]
    assert lines[-6].startswith("layer  direction  input")


def test_unrolled_text_of_packed_long_and_gateless_calls() -> None:
    text = unrolled_text(seed_record([4, 6, 2]), sequence=2)
    assert "sequence 2" in text
    assert text.count("pad") == 8 * 4  # 4 padded tokens, 4 units, 2 directions
    rnn = nn.RNN(3, 16, num_layers=2)
    with bh.attach_hooks(rnn) as rec:
        rnn(torch.randn(30, 2, 3))
    text = unrolled_text(rec[rnn])
    assert "… 10 more hidden units" in text
    assert "t29" in text
    assert "t10" not in text
    assert "saturation" not in text
    assert "out and h_n" in text
    assert max(map(len, text.splitlines())) <= 100
    with pytest.raises(ValueError, match=r"expected a sequence in 0\.\.1, got 2"):
        unrolled_text(rec[rnn], sequence=2)


# -- the diagram --------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "form"), [("LSTM", "packed_unsorted"), ("GRU", "unbatched"),
                                            ("RNN_RELU", "batched")])  # fmt: skip
def test_diagram_without_values_is_the_same_picture(
    run: Any, make_config: Any, kind: str, form: str
) -> None:
    cfg = make_config(kind=kind, layers=2, bidirectional=True, form=form)
    record = run(cfg).record
    assert record.diagram(values=False).svg == record.diagram().svg
    assert "<title>layer" not in record.diagram().svg
    shaded = cells(record.diagram(values=True).svg)
    tips = [c for c in shaded if c.find(f"{SVG}title") is not None]
    assert len(tips) == sum(cfg.valid_lengths) * 2 * 2  # every valid cell has its tooltip


def test_diagram_values_shade_every_valid_cell(run: Any, make_config: Any) -> None:
    cfg = make_config(layers=2, bidirectional=True, batch_first=True, batch=2)
    record = run(cfg).record
    unrolled = record.unroll()
    svg = record.diagram(values=True).svg
    found = cells(svg)
    assert {int(c.get("data-seq", -1)) for c in found} == {0, 1}  # one grid per sequence
    assert len(found) == 2 * 2 * 2 * cfg.tokens
    means = unrolled.out.tensor.mean(-1)  # layer direction batch token
    scale = float(means.abs().max())
    for cell in found:
        b, k, d, t = (
            int(cell.get(f"data-{n}", -1)) for n in ("seq", "layer", "direction", "token")
        )
        title = cell.find(f"{SVG}title")
        assert title is not None
        assert title.text is not None
        mean = float(means[k, d, b, t])
        assert f"mean h {mean:+.3f}" in title.text
        assert title.text.startswith(f"sequence {b}, layer {k} {('forward', 'backward')[d]}, "
                                     f"token {t}: ")  # fmt: skip
        assert cell.get("fill") == colour(mean, scale)
    assert len({c.get("fill") for c in found}) > 10
    assert "fill: mean of h over the hidden units" in svg


def test_diagram_values_leave_padding_grey_and_mark_the_states() -> None:
    svg = seed_record([4, 6, 2]).diagram(values=True).svg
    pads = [c for c in cells(svg) if "pad" in c.get("class", "")]
    assert len(pads) == (2 + 0 + 4) * 4
    assert all(c.find(f"{SVG}title") is None and c.get("fill") == "#f1f1f1" for c in pads)
    states = [c for c in cells(svg) if "h_n" in c.get("class", "")]
    assert len(states) == 3 * 4
    assert all(c.get("stroke") == "#e8590c" for c in states)


def test_colour_scale() -> None:
    assert colour(0.0, 1.0) == "#f5f5f5"
    assert colour(0.3, 0.0) == "#f5f5f5"
    assert colour(1.0, 1.0) == colour(5.0, 1.0)  # clipped
    assert colour(-1.0, 1.0) != colour(1.0, 1.0)


def test_docs_diagram_with_values_is_current_and_renders(
    overwrite_golden: bool, tmp_path: Path
) -> None:
    """docs/img/diagram-values.svg is today's picture; headless Chromium renders it, with
    the fill of a cell where the SVG says (the PNG beside it in docs/img/ is that render)."""
    svg = seed_record([4, 6, 2]).diagram(values=True).svg + "\n"
    golden = IMG / "diagram-values.svg"
    if overwrite_golden:
        golden.write_text(svg, encoding="utf-8")
    assert golden.read_text(encoding="utf-8") == svg
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    image = pytest.importorskip("PIL.Image")
    root = ET.fromstring(svg)
    width, height = root.get("width"), root.get("height")
    png = tmp_path / "diagram-values.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", f"--window-size={width},{height}", str(golden)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    picture = image.open(png).convert("RGB")
    assert picture.size == (int(width or 0), int(height or 0))
    plain = [c for c in cells(svg) if c.get("class") == "cell"]  # no label drawn on it
    for cell in plain[:6]:
        x = int(cell.get("x", 0)) + 8
        y = int(cell.get("y", 0)) + 8
        fill = cell.get("fill", "")
        expected = tuple(int(fill[i : i + 2], 16) for i in (1, 3, 5))
        got = picture.getpixel((x, y))
        assert all(abs(a - b) <= 3 for a, b in zip(got, expected, strict=True)), (got, fill)
    if overwrite_golden:
        shutil.copyfile(png, IMG / "diagram-values.png")
    assert (IMG / "diagram-values.png").exists()


# -- debuggers ----------------------------------------------------------------------------
def test_the_debugger_replays_only_when_layers_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    from bilstm_hooks._display.debugger import Deferred, children, value_text
    from bilstm_hooks._replay import unrolled as _unroll

    record = seed_record([4, 6, 2])
    calls: list[bool] = []
    original = _unroll.replay
    monkeypatch.setattr(_unroll, "replay", lambda r, **kw: calls.append(True) or original(r, **kw))
    found = children(record)
    assert found is not None
    items = {name: (value, expr) for name, value, expr in found.items}
    layers, expr = items["layers"]
    assert expr == ".unroll()"
    assert isinstance(layers, Deferred)
    assert value_text(layers) == "2 layers × 2 directions at every token · replayed when expanded"
    assert calls == []  # shown, not made
    unrolled = layers.get()
    assert len(calls) == 1
    assert value_text(unrolled) == (
        "encoder.unroll(): layer=2 direction=2 batch=3 token=6 hidden=4 · float32 cpu"
    )
    expanded = children(layers)
    assert expanded is not None
    assert expanded.rest is None  # listed: reading attributes could replay
    names = [name for name, _, _ in expanded.items]
    assert names == ["layer 0 forward", "layer 0 backward", "layer 1 forward", "layer 1 backward",
                     "out", "c", "gates", "gate_names", "mask", "record"]  # fmt: skip
    shown = {name: (value, expr) for name, value, expr in expanded.items}
    view, expr = shown["layer 0 backward"]
    assert value_text(view) == (
        "batch=3 token=6 hidden=4 · encoder.unroll().out[layer 0 backward] · float32 cpu"
    )
    assert torch.equal(eval("u" + expr, {"u": unrolled}), view.tensor)
    gates, _ = shown["gates"]
    assert isinstance(gates, Deferred)
    assert len(calls) == 1  # the gates wait for their own expansion
    assert gates.get() is unrolled.gates
    assert len(calls) == 2


def test_the_debugger_says_why_a_call_cannot_be_unrolled(make_config: Any, run: Any) -> None:
    from bilstm_hooks._display.debugger import children

    found = children(run(make_config(layers=2, train=True)).record)
    assert found is not None
    layers = next(value for name, value, _ in found.items if name == "layers")
    assert isinstance(layers, str)
    assert "masks were drawn inside the fused kernel" in layers


def test_the_unrolled_tensors_are_named_wherever_they_go() -> None:
    unrolled = seed_record([4, 6, 2]).unroll(gates=True)
    assert bh.describe(unrolled.out.tensor) == (
        "layer=2 direction=2 batch=3 token=6 hidden=4 · encoder.unroll().out · float32 cpu · "
        "lengths [4, 6, 2]"
    )
    gates = unrolled.gates
    assert gates is not None
    found = bh.annotation_of(gates.tensor[1, 0])  # a view: layer 1 forward
    assert found is not None
    assert found.pattern == "gate batch token hidden"
