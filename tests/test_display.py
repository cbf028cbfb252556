"""Every view shows the names: tuples and lists, positions, notes and lengths, unnamed views.

describe(), the debugger's value and children and the notebook's HTML, on the tensors a
user holds one line after the layer: `(h_n, c_n)`, `padded[:, -1]`, `h_n[-1]`, the cat
of directions, a buggy `view`.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._display import collection_text as _sequence
from bilstm_hooks._display.debugger import children, value_text

LENGTHS = [4, 6, 2]
H_N = "(layer=2 direction=2) batch=3 hidden=4"


@pytest.fixture
def classifier() -> dict[str, Any]:
    """The issue's packed bidirectional classifier, followed, and what its forward holds."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(3, 6, 3)
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("ignore", bh.LayoutWarning)
        out, (h_n, c_n) = lstm(packed)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        held = {
            "rec": rec,
            "out": out,
            "h_n": h_n,
            "c_n": c_n,
            "padded": padded,
            "last": padded[:, -1],
            "h_last": h_n[-1],
            "final": torch.cat([h_n[-2], h_n[-1]], -1),
            "wrong": h_n.view(-1, 8),
        }
    return held


# -- tuples and lists -----------------------------------------------------------------------
def test_a_state_tuple_shows_its_names(classifier: dict[str, Any]) -> None:
    h_n, c_n = classifier["h_n"], classifier["c_n"]
    expected = f"({H_N} · encoder.h_n, {H_N} · encoder.c_n) · float32 cpu"
    assert value_text((h_n, c_n)) == expected
    assert bh.describe((h_n, c_n)) == expected
    assert value_text([h_n, c_n]) == f"[{H_N} · encoder.h_n, {H_N} · encoder.c_n] · float32 cpu"


def test_nested_tuples_and_lists(classifier: dict[str, Any]) -> None:
    padded, h_n, c_n = classifier["padded"], classifier["h_n"], classifier["c_n"]
    nested = value_text((padded, (h_n, c_n)))
    assert nested == (
        "(batch=3 token=6 (direction=2 hidden=4) · encoder.out, padded, "
        f"({H_N} · encoder.h_n, {H_N} · encoder.c_n)) · float32 cpu"
    )
    per_layer = value_text([(h_n, c_n), (h_n, c_n)])
    assert per_layer is not None
    assert per_layer.startswith(f"[({H_N} · encoder.h_n, {H_N} · encoder.c_n), (")
    # positions of views, other items by kind, never by a repr that could read data
    mixed = value_text((classifier["h_last"], 3, None, "x", torch.zeros(2), nn.Linear(1, 1)))
    assert mixed == (
        "(batch=3 hidden=4 · encoder.h_n: layer 1, backward, 3, None, 'x', "
        "tensor shape=(2,), <Linear>) · float32 cpu"
    )
    assert value_text((classifier["out"],)) == (
        "(batch=3 token=6 (direction=2 hidden=4) · encoder.out, packed,) · float32 cpu"
    )


def test_the_look_is_bounded(classifier: dict[str, Any]) -> None:
    h_n = classifier["h_n"]
    many = [torch.zeros(1)] * (_sequence.MAX_ITEMS - 1) + [h_n, h_n]
    text = value_text(many)
    assert text is not None
    assert text.endswith(f"{H_N} · encoder.h_n, …] · float32 cpu")
    assert value_text([torch.zeros(1)] * _sequence.MAX_ITEMS + [h_n]) is None  # not looked at
    deep: Any = h_n
    for _ in range(_sequence.MAX_DEPTH + 1):  # containers nested deeper than looked into
        deep = (deep,)
    assert value_text(deep) is None
    assert value_text(deep[0]) == f"((({H_N} · encoder.h_n,),),) · float32 cpu"


@pytest.mark.parametrize(
    "obj",
    [(), [], (1, 2), [torch.zeros(3)], (torch.zeros(2), [torch.zeros(1)]), ("a", None)],
    ids=["empty-tuple", "empty-list", "ints", "tensor", "nested", "other"],
)
def test_tuples_and_lists_not_ours_keep_their_look(obj: Any) -> None:
    assert value_text(obj) is None
    assert children(obj) is None
    assert bh.describe(obj) == repr(obj)


def test_subclasses_of_tuple_are_not_looked_into(classifier: dict[str, Any]) -> None:
    values = classifier["h_n"].max(0)  # torch.return_types.max, a structseq
    assert value_text(values) is None


# -- positions, notes, lengths ------------------------------------------------------------------
def test_derived_views_and_followed_copies(classifier: dict[str, Any]) -> None:
    assert value_text(classifier["padded"]) == (
        "batch=3 token=6 (direction=2 hidden=4) · shape=(3, 6, 8) · encoder.out, padded"
        " · float32 cpu · lengths [4, 6, 2]"
    )
    assert value_text(classifier["h_last"]) == (
        "batch=3 hidden=4 · encoder.h_n: layer 1, backward · float32 cpu · backward direction only"
    )
    assert value_text(classifier["final"]) == (
        "batch=3 (direction=2 hidden=4) · shape=(3, 8) · encoder.h_n: layer 1 · float32 cpu"
        " · both directions"
    )


def test_a_view_that_cannot_be_named_says_so(classifier: dict[str, Any]) -> None:
    wrong = classifier["wrong"]
    expected = (
        "tensor shape=(6, 8) · float32 cpu · a view of encoder.h_n, unnamed: an axis of size 6 "
        "mixes layer and direction and batch and hidden"
    )
    assert value_text(wrong) == bh.describe(wrong) == expected
    assert children(wrong) is None  # nothing named to list
    assert value_text(torch.zeros(6, 8)) is None


def test_children_show_where_a_view_was_taken(classifier: dict[str, Any]) -> None:
    last = classifier["last"]
    found = children(last)
    assert found is not None
    items = {name: (value, expr) for name, value, expr in found.items}
    assert list(items) == [
        "forward", "backward", "batch", "direction", "hidden", "pattern", "at", "notes", "lengths"
    ]  # fmt: skip
    assert items["at"][0] == {"token": 5}
    assert items["lengths"][0] == (4, 6, 2)
    assert "rows 0, 2 are padding" in items["notes"][0]
    scope = {"last": last}
    for name in ("at", "notes", "lengths"):
        expr = items[name][1]
        assert callable(expr)
        assert eval(expr("last"), scope) == items[name][0]
    # a half of the last token: named as `last[..., :4]` typed in a watch pane is
    forward = items["forward"][0]
    assert (
        value_text(forward)
        == value_text(last[..., :4])
        == (
            "batch=3 hidden=4 · encoder.out, padded: token 5, forward · float32 cpu"
            " · forward direction only; rows 0, 2 are padding · lengths [4, 6, 2]"
        )
    )
    assert forward.untyped_storage().data_ptr() == last.untyped_storage().data_ptr()


def test_annotated_tensor_children_and_html_show_positions(classifier: dict[str, Any]) -> None:
    h_n = classifier["rec"]["encoder"].h_n
    backward = h_n.isel(layer=-1, direction="backward")
    found = children(backward)
    assert found is not None
    assert [(n, v, e) for n, v, e in found.items if n in ("at", "notes")] == [
        ("at", {"layer": 1, "direction": 1}, ".at"),
        ("notes", ("backward direction only",), ".notes"),
    ]
    html = backward._repr_html_()
    assert "encoder.h_n: layer 1, backward" in html
    assert "backward direction only" in html
    padded = bh.annotation_of(classifier["padded"])
    assert padded is not None
    assert "lengths [4, 6, 2]" in padded._repr_html_()
    assert "lengths" not in h_n._repr_html_()


# -- tensors of other layouts and devices -----------------------------------------------------


def _unusual_tensors() -> dict[str, torch.Tensor]:
    with warnings.catch_warnings():  # torch's own "prototype" / "beta" warnings
        warnings.simplefilter("ignore")
        parts = [torch.zeros(2, 3), torch.zeros(4, 3)]
        return {
            "nested": torch.nested.nested_tensor(parts),
            "nested-jagged": torch.nested.nested_tensor(parts, layout=torch.jagged),
            "nested-one": torch.nested.nested_tensor(parts[:1]),
            "nested-empty": torch.nested.nested_tensor([]),
            "sparse-coo": torch.eye(3).to_sparse(),
            "sparse-csr": torch.eye(3).to_sparse_csr(),
            "sparse-csc": torch.eye(3).to_sparse_csc(),
            "sparse-bsr": torch.eye(4).to_sparse_bsr((2, 2)),
            "meta": torch.zeros(3, 4, device="meta"),
            "quantized": torch.quantize_per_tensor(torch.rand(3), 0.1, 0, torch.quint8),
        }


UNUSUAL = {
    "nested": "nested tensor, 2 components · float32 cpu",
    "nested-jagged": "nested tensor, 2 components · float32 cpu",
    "nested-one": "nested tensor, 1 component · float32 cpu",
    "nested-empty": "nested tensor, 0 components · float32 cpu",
    "sparse-coo": "tensor shape=(3, 3) · float32 cpu",
    "sparse-csr": "tensor shape=(3, 3) · float32 cpu",
    "sparse-csc": "tensor shape=(3, 3) · float32 cpu",
    "sparse-bsr": "tensor shape=(4, 4) · float32 cpu",
    "meta": "tensor shape=(3, 4) · float32 meta",
    "quantized": "tensor shape=(3,) · quint8 cpu",
}


@pytest.mark.parametrize("kind", list(UNUSUAL))
def test_describe_of_nested_sparse_meta_and_quantized_tensors_never_raises(
    classifier: dict[str, Any], kind: str
) -> None:
    """A plain line for each (a nested tensor has no one shape: its number of components);
    the debugger keeps its own presentation of them, and a tuple holding one names the rest."""
    tensor = _unusual_tensors()[kind]
    assert bh.describe(tensor) == UNUSUAL[kind]
    assert value_text(tensor) is None
    assert children(tensor) is None
    assert bh.annotation_of(tensor) is None
    line, dtype = UNUSUAL[kind].split(" · ")
    dtypes = "float32 cpu" if dtype == "float32 cpu" else f"float32 cpu, {dtype}"
    if type(tensor) is not torch.Tensor:  # a jagged one is a tensor subclass: never touched
        line = f"<{type(tensor).__name__}>"
    held = (classifier["h_n"], tensor)
    assert bh.describe(held) == value_text(held) == f"({H_N} · encoder.h_n, {line}) · {dtypes}"
