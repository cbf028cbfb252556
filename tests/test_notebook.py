"""Notebook views: HTML reprs of AnnotatedTensor, Record and Recorder, and Record.diagram()."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh

SVG = "{http://www.w3.org/2000/svg}"
DOCS_IMAGE = Path(__file__).parent.parent / "docs" / "img" / "diagram-packed.svg"


def cells(svg: str, *classes: str) -> list[ET.Element]:
    """The grid cells of a diagram, those carrying every one of `classes`."""
    root = ET.fromstring(svg)
    found = []
    for rect in root.iter(f"{SVG}rect"):
        have = rect.get("class", "").split()
        if "cell" in have and all(c in have for c in classes):
            found.append(rect)
    return found


def where(rect: ET.Element) -> tuple[int, ...]:
    keys = ("data-seq", "data-layer", "data-direction", "data-token")
    return tuple(int(rect.get(k, -1)) for k in keys)


def seed_lstm() -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)


def packed_record(lengths: list[int], **kwargs: Any) -> bh.Record:
    lstm = seed_lstm()
    x = torch.randn(len(lengths), max(lengths), 3)
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    with bh.attach_hooks(nn.ModuleDict({"encoder": lstm})) as rec:
        lstm(packed)
    return rec["encoder"]


def batched_record(batch: int) -> bh.Record:
    lstm = seed_lstm()
    with bh.attach_hooks(lstm) as rec:
        lstm(torch.randn(batch, 5, 3))
    return rec[lstm]


# -- HTML -----------------------------------------------------------------------------------
def test_annotated_tensor_html_names_every_dim() -> None:
    lstm = seed_lstm()
    with bh.attach_hooks(nn.ModuleDict({"encoder": lstm})) as rec:
        lstm(torch.randn(2, 6, 3))
    html = rec["encoder"].out._repr_html_()
    for text in ("batch=2", "token=6", "direction=2", "hidden=4", "batch token (direction hidden)"):
        assert text in html
    assert "encoder.out" in html
    assert "float32 cpu" in html
    assert "(2, 6, 8)" in html


def test_record_html_has_every_role_and_the_diagram() -> None:
    record = packed_record([4, 6, 2])
    html = record._repr_html_()
    for role in ("input", "out", "h_n", "c_n"):
        assert f"<code>{role}</code>" in html
    assert "(layer direction) batch hidden" in html
    assert "packed, lengths [4, 6, 2]" in html
    assert "<svg" in html
    assert "Record &#x27;encoder&#x27;" in html


def test_recorder_html_lists_modules_and_escapes() -> None:
    gru, rnn = nn.GRU(3, 4), nn.RNN(3, 4)
    rec = bh.attach_hooks(nn.ModuleDict({"gru": gru, "rnn": rnn}))
    gru(torch.randn(6, 2, 3))
    html = rec._repr_html_()
    rec.remove()
    assert "<code>gru</code>" in html
    assert "token=6 batch=2 (direction=1 hidden=4)" in html
    assert "(not called yet)" in html
    root = bh.attach_hooks(gru)
    assert "<code>&lt;GRU&gt;</code>" in root._repr_html_()
    root.remove()


# -- the diagram ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional", "form"),
    [
        ("LSTM", 2, True, "batched"),
        ("GRU", 3, False, "batched"),
        ("RNN_TANH", 1, True, "unbatched"),
        ("LSTM", 1, False, "unbatched"),
    ],
)
def test_diagram_grid(
    run: Any, make_config: Any, kind: str, layers: int, bidirectional: bool, form: str
) -> None:
    cfg = make_config(kind=kind, layers=layers, bidirectional=bidirectional, form=form, tokens=5)
    svg = run(cfg).record.diagram().svg
    d, t = cfg.directions, cfg.tokens
    assert len(cells(svg)) == layers * d * t
    assert len(cells(svg, "out")) == d * t
    assert {where(c)[1] for c in cells(svg, "out")} == {layers - 1}
    states = cells(svg, "h_n")
    assert len(states) == layers * d
    expected = {
        (-1, layer, dd, t - 1 if dd == 0 else 0) for layer in range(layers) for dd in range(d)
    }
    assert {where(c) for c in states} == expected
    assert len(cells(svg, "c_n")) == (layers * d if kind == "LSTM" else 0)
    assert cells(svg, "pad") == []


def test_diagram_marks_h_n_at_each_sequences_last_valid_token() -> None:
    lengths = [4, 6, 2]  # unsorted: the panels follow the caller's batch order
    svg = packed_record(lengths).diagram().svg
    layers, d, tokens = 2, 2, 6
    assert len(cells(svg)) == len(lengths) * layers * d * tokens
    for b, n in enumerate(lengths):
        mine = [c for c in cells(svg, "h_n") if where(c)[0] == b]
        assert {where(c) for c in mine} == {
            (b, layer, dd, n - 1 if dd == 0 else 0) for layer in range(layers) for dd in range(d)
        }
        pads = [c for c in cells(svg, "pad") if where(c)[0] == b]
        assert len(pads) == (tokens - n) * layers * d
        assert all(where(c)[3] >= n for c in pads)
        outs = [c for c in cells(svg, "out") if where(c)[0] == b]
        assert len(outs) == n * d


def test_diagram_shows_out_last_index() -> None:
    root = ET.fromstring(packed_record([4, 6, 2]).diagram().svg)
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert labels.count("out[:, -1]") == 3
    assert any(label and label.startswith("out[:, -1]: what indexing") for label in labels)


def test_diagram_caps_sequences_and_tokens() -> None:
    svg = packed_record([6, 5, 4, 3, 2, 1]).diagram(max_sequences=4).svg
    panels = {where(c)[0] for c in cells(svg)}
    assert panels == {0, 1, 2, 3}
    assert "… and 2 more sequences" in svg

    gru = nn.GRU(3, 4, num_layers=2)
    with bh.attach_hooks(gru) as rec:
        gru(
            pack_padded_sequence(
                torch.randn(40, 2, 3), torch.tensor([40, 17]), enforce_sorted=False
            )
        )
    svg = rec[gru].diagram(max_tokens=8).svg
    tokens = {where(c)[3] for c in cells(svg)}
    assert len(tokens) < 40
    assert {0, 16, 39} <= tokens  # both ends, and where sequence 1's h_n sits
    assert {where(c)[3] for c in cells(svg, "h_n") if where(c)[0] == 1} == {16}
    assert "…" in svg


def test_diagram_object(tmp_path: Path) -> None:
    diagram = packed_record([4, 6, 2]).diagram()
    assert diagram._repr_svg_() == diagram.svg
    assert str(diagram).startswith("<Diagram: ")  # a terminal's line, not the SVG
    assert repr(diagram) == "<Diagram: LSTM 'encoder': 2 layers × 6 tokens × 2 directions>"
    path = tmp_path / "call.svg"
    diagram.save(path)
    assert ET.parse(path).getroot().tag == f"{SVG}svg"
    with pytest.raises(ValueError, match=r"expected a path ending in \.svg, got '.*call\.png'"):
        diagram.save(tmp_path / "call.png")


def test_docs_image_is_current(overwrite_golden: bool) -> None:
    """docs/img/diagram-packed.svg is what the docs' example draws today."""
    svg = packed_record([4, 6, 2]).diagram().svg + "\n"
    if overwrite_golden:
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        DOCS_IMAGE.write_text(svg, encoding="utf-8")
    assert DOCS_IMAGE.read_text(encoding="utf-8") == svg


@pytest.mark.parametrize("option", ["max_sequences", "max_tokens"])
@pytest.mark.parametrize(
    ("value", "error"),
    [("3", TypeError), (None, TypeError), (2.5, TypeError), (True, TypeError),
     (0, ValueError), (-1, ValueError)],
)  # fmt: skip
def test_diagram_takes_counts_as_ints_from_1(option: str, value: Any, error: type) -> None:
    record = packed_record([4, 6])
    with pytest.raises(
        error, match=rf"^expected {option} as an int >= 1, got {re.escape(repr(value))}$"
    ):
        record.diagram(**{option: value})


@pytest.mark.parametrize("values", ["yes", 1, None])
def test_diagram_takes_values_as_a_bool_only(values: Any) -> None:
    with pytest.raises(
        TypeError, match=rf"^expected values as a bool, got {re.escape(repr(values))}$"
    ):
        packed_record([4, 6]).diagram(values=values)


@pytest.mark.parametrize("values", [False, True])
@pytest.mark.parametrize("max_sequences", [1, 2, 5, 6, 7, 100])
def test_diagram_counts_the_sequences_left_out(values: bool, max_sequences: int) -> None:
    batch = 6
    for record in (packed_record([6, 5, 4, 3, 2, 1]), batched_record(batch)):
        if not values and not record.packed:
            continue  # one grid holds for every sequence
        svg = record.diagram(max_sequences=max_sequences, values=values).svg
        shown = min(batch, max_sequences)
        assert {where(c)[0] for c in cells(svg)} == set(range(shown))
        left = batch - shown
        texts = [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]
        more = [t for t in texts if "more sequence" in t]
        assert more == ([f"… and {left} more sequence{'s' if left > 1 else ''}"] if left else [])


@pytest.mark.parametrize("path", [b"call.svg", 3, None, ["call.svg"]], ids=repr)
def test_diagram_save_takes_a_str_or_path_only(tmp_path: Path, path: Any) -> None:
    diagram = packed_record([4, 6, 2]).diagram()
    with pytest.raises(
        TypeError, match=rf"^expected path as a str or os\.PathLike, got {re.escape(repr(path))}$"
    ):  # bytes gave a bare TypeError from str.endswith
        diagram.save(path)


def test_diagram_save_takes_a_str_and_any_path_like(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    diagram = packed_record([4, 6, 2]).diagram()
    diagram.save(str(tmp_path / "a.svg"))
    monkeypatch.chdir(tmp_path)

    class Where:
        def __fspath__(self) -> str:
            return "b.SVG"

    diagram.save(Where())
    for name in ("a.svg", "b.SVG"):
        assert (tmp_path / name).read_text(encoding="utf-8") == diagram.svg

    class Raw:
        def __fspath__(self) -> bytes:
            return b"c.svg"

    with pytest.raises(TypeError, match=r"^expected path as a str or os\.PathLike, got <"):
        diagram.save(Raw())  # type: ignore[arg-type]


# -- markup in names -------------------------------------------------------------------------
HOSTILE_CLASS = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert(2)</script>"


def test_every_html_and_svg_view_escapes_class_and_module_names() -> None:
    """A module class or qualified name holding markup reaches every view escaped: the
    recorder's table showed the class name raw."""
    hostile = type(HOSTILE_CLASS, (nn.LSTM,), {})
    torch.manual_seed(0)
    root = hostile(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    model = nn.ModuleDict()
    model.add_module(HOSTILE_NAME, hostile(3, 4, bidirectional=True, batch_first=True))
    inner = nn.ModuleDict({"plain": nn.GRU(3, 4)})
    inner.add_module(HOSTILE_NAME, nn.GRU(3, 4))  # a hostile name nested in a path
    model.add_module("inner", inner)
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([4, 6, 2])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    views: list[tuple[str, str, list[str]]] = []  # what, text, the names it shows
    for module, where, call, shown in (
        (root, root, x, [f"<{HOSTILE_CLASS}>"]),
        (model, model[HOSTILE_NAME], packed, [HOSTILE_NAME]),
        (model, inner[HOSTILE_NAME], x, [f"inner.{HOSTILE_NAME}"]),
    ):
        with bh.attach_hooks(module) as rec:
            where(call)
        record = rec[where]
        unrolled = record.unroll(gates=True)
        views += [
            ("Recorder", rec._repr_html_(), [*shown, HOSTILE_CLASS]),  # the kind column
            ("Record", record._repr_html_(), shown),
            ("Unrolled", unrolled._repr_html_(), shown),
            ("Saturation", unrolled.saturation()._repr_html_(), shown),
        ]
        for role in ("out", "h_n", "input"):
            views.append((f"AnnotatedTensor {role}", getattr(record, role)._repr_html_(), shown))
        views.append(("AnnotatedTensor view", record.h_n[-1]._repr_html_(), shown))
        views.append(("AnnotatedTensor unrolled", unrolled.out._repr_html_(), shown))
        for values in (False, True):
            diagram = record.diagram(values=values)
            assert diagram._repr_svg_() == diagram.svg
            ET.fromstring(diagram._repr_svg_())  # still well-formed XML
            # a root module's diagram names the kind only, the others their module
            names = [] if where is root else shown
            views.append((f"Diagram values={values}", diagram._repr_svg_(), names))
    for what, text, names in views:
        for raw in ("<img", "<script", "</script", "onerror=alert(1)>"):
            assert raw not in text, what
        for name in names:
            assert escape(name) in text, (what, name)


def test_saturation_html_escapes_its_shares() -> None:
    from bilstm_hooks._names.layout import Axes
    from bilstm_hooks._replay.saturation import Saturation

    names = (("layer", 1), ("direction", 1), ("gate", 1))
    axes = Axes(tuple((n,) for n, _ in names), names)
    share = bh.AnnotatedTensor(torch.tensor([[[0.001]]]), axes)
    top = bh.AnnotatedTensor(torch.tensor([[[0.999]]]), axes)
    html = Saturation("title", ("forget",), share, top)._repr_html_()
    assert "&lt;1% | &gt;99%" in html
    assert "<1%" not in html
