"""Broadcast axes (`expand`): named `broadcast`, never after a dim, and checked on the values.

Each view below is checked by `oracle.check`: the names say what every position holds,
by the values and by element ids (the positions of a broadcast axis are one element).
While following, an elementwise op keeps a broadcast axis only where its result is
still the same along it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from oracle import check, ids_like
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._names.broadcast import fresh_names, is_broadcast, keeps_broadcast, with_notes

NOTE = "broadcast: expanded, its positions hold one and the same data"
NOTE2 = "broadcast2: expanded, its positions hold one and the same data"


View = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
VIEWS: dict[str, tuple[str, View, str, dict[str, int], tuple[str, ...]]] = {
    # name: (base, view, pattern, at, notes)
    "h_n[-1] repeated over the tokens": (
        "h_n", lambda out, h: h[-1].unsqueeze(1).expand(3, 6, 4), "batch broadcast hidden",
        {"layer": 1, "direction": 1}, ("backward direction only", NOTE),
    ),
    "the last token, kept as a size-1 axis, expanded": (
        "out", lambda out, h: out[:, -1:].expand(3, 6, 8), "batch broadcast (direction hidden)",
        {"token": 5}, ("the last token: its backward half has read only this token", NOTE),
    ),
    "x[None].expand(k, ...)": (
        "out", lambda out, h: out[None].expand(2, -1, -1, -1),
        "broadcast batch token (direction hidden)", {}, (NOTE,),
    ),
    "a new leading axis, sliced": (
        "out", lambda out, h: out.expand(4, 3, 6, 8)[1:3],
        "broadcast batch token (direction hidden)", {}, (NOTE,),
    ),
    "a new leading axis, indexed away again": (
        "out", lambda out, h: out.expand(4, 3, 6, 8)[2], "batch token (direction hidden)", {}, (),
    ),
    "two broadcast axes": (
        "h_n", lambda out, h: h[-1][:, None].expand(3, 6, 4)[None].expand(5, -1, -1, -1),
        "broadcast batch broadcast2 hidden", {"layer": 1, "direction": 1},
        ("backward direction only", NOTE, NOTE2),
    ),
    "transposed": (
        "out", lambda out, h: out.expand(2, 3, 6, 8).transpose(0, 2),
        "token batch broadcast (direction hidden)", {}, (NOTE,),
    ),
    "a forward half, broadcast": (
        "out", lambda out, h: out[:, -1:, :4].expand(3, 6, 4), "batch broadcast hidden",
        {"token": 5, "direction": 0}, ("forward direction only", NOTE),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", VIEWS)
def test_expanded_views_are_named_broadcast_and_hold_what_they_say(encoder: Any, name: str) -> None:
    out, h_n = encoder
    role, make, pattern, at, notes = VIEWS[name]
    base = out if role == "out" else h_n
    view = make(out, h_n)
    ids = ids_like(base)
    ids_view = make(ids, ids) if role == "out" else make(ids_like(out), ids)
    found = bh.annotation_of(view)
    assert found is not None
    assert (found.pattern, found.at, found.notes) == (pattern, at, notes)
    root = bh.annotation_of(base)
    assert root is not None
    check(view, ids_view, base, ids, root, found)


def test_an_expanded_size_1_dim_is_not_named_as_if_it_had_grown(encoder: Any) -> None:
    """A decoder step's `out` (token=1) expanded over 6 positions is not `token=6`."""
    gru = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"decoder": gru}))
    step, _ = gru(torch.randn(3, 1, 3))
    found = bh.annotation_of(step.expand(3, 6, 4))
    assert found is not None
    assert found.pattern == "batch broadcast (direction hidden)"
    assert found.sizes == {"batch": 3, "broadcast": 6, "direction": 1, "hidden": 4}
    for k in range(6):
        assert torch.equal(step.expand(3, 6, 4)[:, k], step[:, 0])


def test_describe_and_repr_show_the_broadcast_axis(encoder: Any) -> None:
    _, h_n = encoder
    view = h_n[-1].unsqueeze(1).expand(3, 6, 4)
    assert bh.describe(view) == (
        "batch=3 broadcast=6 hidden=4 · encoder.h_n: layer 1, backward · float32 cpu · "
        f"backward direction only; {NOTE}"
    )
    assert repr(bh.annotation_of(view)) == (
        "AnnotatedTensor[batch=3, broadcast=6, hidden=4] encoder.h_n: layer 1, backward · "
        f"backward direction only · {NOTE}"
    )


def test_the_note_goes_with_the_axis(encoder: Any) -> None:
    out, _ = encoder
    found = bh.annotation_of(out[None].expand(2, -1, -1, -1))
    assert found is not None
    assert found.isel(broadcast=1).notes == ()
    assert found.rearrange("batch broadcast token (direction hidden)").notes == (NOTE,)
    with bh.follow():
        summed = out[None].expand(2, -1, -1, -1).sum(0)
    assert bh.annotation_of(summed).notes == ()  # type: ignore[union-attr]


def test_fresh_names_avoid_the_names_taken() -> None:
    assert fresh_names(1, ("batch", "token")) == ("broadcast",)
    assert fresh_names(2, ("broadcast", "broadcast3")) == ("broadcast2", "broadcast4")
    assert is_broadcast("broadcast12")
    assert not is_broadcast("broadcasts")
    assert with_notes((NOTE,), ("batch",)) == ()


def test_a_copy_of_an_expanded_view_keeps_the_axis_and_its_views_are_named(encoder: Any) -> None:
    """A tagged copy that has a `broadcast` dim: a new expand gets `broadcast2`."""
    _, h_n = encoder
    with bh.follow():
        copy = h_n[-1].unsqueeze(1).expand(3, 6, 4).contiguous()
    found = bh.annotation_of(copy[None].expand(2, -1, -1, -1))
    assert found is not None
    assert found.pattern == "broadcast2 batch broadcast hidden"
    assert found.notes == ("backward direction only", NOTE, NOTE2)


# -- while following: elementwise ops ---------------------------------------------------------
def _expanded(h_n: torch.Tensor) -> torch.Tensor:
    return h_n[-1].unsqueeze(1).expand(3, 6, 4)


KEEP: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "times 2": lambda t: t * 2,
    "plus a tensor the same along it": lambda t: t + torch.randn(3, 1, 4),
    "plus a row of units": lambda t: t + torch.randn(4),
    "tanh": torch.tanh,
    "dropout in eval": lambda t: nn.Dropout(0.5).eval()(t),
    "dropout with p=0": lambda t: F.dropout(t, p=0.0),
    "contiguous": lambda t: t.contiguous(),
    "plus another expand": lambda t: t + torch.randn(3, 1, 4).expand(3, 6, 4),
}
DROP: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "plus noise": lambda t: t + torch.randn(3, 6, 4),
    "noise plus it": lambda t: torch.randn(3, 6, 4) + t,
    "dropout in training": lambda t: F.dropout(t, p=0.5),
    "nn.Dropout in training": lambda t: nn.Dropout(0.5)(t),
    "where, a mask that differs along it": lambda t: torch.where(torch.rand(3, 6, 4) > 0.5, t, 0),
    "masked_fill, a mask that differs along it": lambda t: t.masked_fill(
        torch.rand(3, 6, 1) > 0.5, 0.0
    ),
}


@pytest.mark.parametrize("op", KEEP.values(), ids=list(KEEP))
def test_ops_that_keep_it_the_same_along_keep_the_names(encoder: Any, op: Any) -> None:
    _, h_n = encoder
    with bh.follow():
        result = op(_expanded(h_n))
    found = bh.annotation_of(result)
    assert found is not None
    assert found.pattern == "batch broadcast hidden"
    assert NOTE in found.notes
    for k in range(1, 6):  # what the note says
        assert torch.equal(result[:, k], result[:, 0])


@pytest.mark.parametrize("op", DROP.values(), ids=list(DROP))
def test_ops_that_make_it_differ_along_drop_the_names(encoder: Any, op: Any) -> None:
    _, h_n = encoder
    torch.manual_seed(1)
    with bh.follow():
        result = op(_expanded(h_n))
    assert bh.annotation_of(result) is None
    assert not all(torch.equal(result[:, k], result[:, 0]) for k in range(1, 6))


def test_an_in_place_op_that_makes_it_differ_drops_the_names(encoder: Any) -> None:
    _, h_n = encoder
    with bh.follow():
        copy = _expanded(h_n).contiguous()
        copy.add_(torch.randn(3, 6, 4))
        doubled = _expanded(h_n).contiguous()
        doubled.mul_(2)
    assert bh.annotation_of(copy) is None
    assert bh.annotation_of(doubled).pattern == "batch broadcast hidden"  # type: ignore[union-attr]


def test_keeps_broadcast_without_a_broadcast_axis_keeps() -> None:
    noise = torch.randn(2, 3)
    assert keeps_broadcast((("batch",), ("hidden",)), torch.add, (noise, noise), {})
    assert not keeps_broadcast((("batch",), ("broadcast",)), torch.add, (noise, noise), {})
