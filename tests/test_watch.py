"""What *Add to Watch* on a child gives (issue 19, item 5): a view's expression evaluates to
that view, with the same names, anywhere; `final`'s, a copy, is named where names are
followed and plain numbers elsewhere, as docs/debugger.md says. A slice of `final` says
which direction it holds, and only that."""

from __future__ import annotations

import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._display.debugger import children, value_text

COPY = " · a copy, made when expanded"


def watched(name: str, h_n: torch.Tensor) -> tuple[str, object]:
    (item,) = [i for i in children(h_n).items if i[0] == name]  # type: ignore[union-attr]
    return item[2], item[1]


def test_a_views_watch_expression_is_named_anywhere_and_finals_where_followed() -> None:
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    _out, (h_n, _c_n) = lstm(torch.randn(6, 2, 3))
    suffix, row = watched("layer 1 backward", h_n)
    assert bh.describe(eval(f"h_n{suffix}")) == value_text(row)
    suffix, final = watched("final", h_n)
    assert suffix == "[-2:].movedim(0, -2).flatten(-2)"
    shown = value_text(final)
    assert shown is not None
    assert shown.endswith(COPY)
    assert bh.annotation_of(eval(f"h_n{suffix}")) is None
    with bh.follow():  # a breakpoint inside followed code: the watch is followed too
        again = eval(f"h_n{suffix}")
    assert (
        bh.describe(again) == "batch=2 (direction=2 hidden=16) · encoder.h_n: layer 1 · float32 cpu"
    )
    assert shown.removesuffix(COPY).startswith(
        "batch=2 (direction=2 hidden=16) · shape=(2, 32) · encoder.h_n"
    )


def test_a_slice_of_final_notes_its_one_direction_only() -> None:
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    _out, (h_n, _c_n) = lstm(torch.randn(6, 2, 3))
    with bh.follow():
        final = torch.cat([h_n[-2], h_n[-1]], -1)
    forward, backward = bh.annotation_of(final[:, :16]), bh.annotation_of(final[:, 16:])
    assert forward is not None
    assert backward is not None
    assert forward.notes == ("forward direction only",)
    assert backward.notes == ("backward direction only",)
    assert torch.equal(final[:, :16], h_n[-2])
    assert torch.equal(final[:, 16:], h_n[-1])
