"""The rows of h_n and the batch axis of a time-major out (`_follow.misuse_rows`).

Each bug warns with a message that names what arrived and the right form; its correct
form stays silent; drawn over LSTM/GRU/RNN, 1-3 layers, uni- and bidirectional,
batch_first or not. Names claimed are checked on the values (h_n rows, out slices).
"""

from __future__ import annotations

import warnings
from typing import Any

import einops
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import bilstm_hooks as bh

KINDS = (nn.LSTM, nn.GRU, nn.RNN)


@st.composite
def calls(draw: Any) -> dict[str, Any]:
    """A layer of drawn kind and shape, called once: what a user holds."""
    kind = draw(st.sampled_from(KINDS))
    layers, bidi = draw(st.integers(1, 3)), draw(st.booleans())
    batch_first = draw(st.booleans())
    batch, tokens = draw(st.integers(2, 4)), draw(st.integers(1, 4))
    hidden = draw(st.integers(1, 3))
    torch.manual_seed(0)
    layer = kind(2, hidden, num_layers=layers, bidirectional=bidi, batch_first=batch_first)
    rec = bh.attach_hooks(layer)
    x = torch.randn((batch, tokens, 2) if batch_first else (tokens, batch, 2))
    out, state = layer(x)
    h_n = state[0] if isinstance(state, tuple) else state
    rec.remove()
    return {"out": out, "h_n": h_n, "L": layers, "D": 2 if bidi else 1, "B": batch, "H": hidden,
            "batch_first": batch_first}  # fmt: skip


def _silent(make: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with bh.follow():
            return make()


def _warned(make: Any, match: str) -> Any:
    with bh.follow(), pytest.warns(bh.LayoutWarning, match=match) as caught:
        result = make()
    assert all(w.filename == __file__ for w in caught)  # at the user's line
    return result


# -- 1. cat(unbind(h_n), -1): every row side by side, the layer kept --------------------------
@settings(max_examples=60, deadline=None)
@given(held=calls())
def test_rows_of_h_n_side_by_side_keep_the_layer(held: dict[str, Any]) -> None:
    h_n, L, D, H = held["h_n"], held["L"], held["D"], held["H"]
    joined = _silent(lambda: torch.cat(torch.unbind(h_n), dim=-1))
    names = bh.annotation_of(joined)
    assert names is not None
    assert names.pattern == "batch (layer direction hidden)"
    assert (names.sizes["layer"], names.sizes["direction"]) == (L, D)
    grid = joined.view(held["B"], L, D, H)  # the position each name says
    for layer in range(L):
        for direction in range(D):
            assert torch.equal(grid[:, layer, direction], h_n[layer * D + direction])


@settings(max_examples=30, deadline=None)
@given(held=calls())
def test_rows_of_h_n_stacked_back_are_h_n(held: dict[str, Any]) -> None:
    h_n = held["h_n"]
    stacked = _silent(lambda: torch.stack(torch.unbind(h_n), dim=0))
    names = bh.annotation_of(stacked)
    assert torch.equal(stacked, h_n)
    assert names is not None
    assert names.pattern == "(layer direction) batch hidden"


def test_some_rows_of_an_unbind_are_not_all_rows() -> None:
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    rec = bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(4, 5, 2))
    rows = torch.unbind(h_n)
    joined = _silent(lambda: torch.cat(rows[2:], dim=-1))  # the last layer's two rows
    names = bh.annotation_of(joined)
    assert names is not None
    assert names.pattern == "batch (direction hidden)"
    assert names.at == {"layer": 1}
    rec.remove()


# -- 2. h_n.view(2, L, ...): the rows read direction-major -------------------------------------
_VIEWS = {
    "view": lambda h, a, b: h.view(a, b, *h.shape[1:]),
    "reshape": lambda h, a, b: h.reshape(a, b, *h.shape[1:]),
    "unflatten": lambda h, a, b: h.unflatten(0, (a, b)),
    "rearrange": lambda h, a, b: einops.rearrange(h, "(a b) n h -> a b n h", a=a, b=b),
}


@settings(max_examples=80, deadline=None)
@given(held=calls(), how=st.sampled_from(sorted(_VIEWS)))
def test_rows_viewed_direction_major_warn(held: dict[str, Any], how: str) -> None:
    h_n, L, D = held["h_n"], held["L"], held["D"]
    view = _VIEWS[how]
    right = _silent(lambda: view(h_n, L, D))
    names = bh.annotation_of(right)
    if L > 1 and D > 1:
        assert names is not None
        assert names.pattern == "layer direction batch hidden"
        for layer in range(L):
            for direction in range(D):
                assert torch.equal(right[layer, direction], h_n[layer * D + direction])
    if 1 in (L, D) or L == D:  # the same rows, or a shape that cannot tell
        _silent(lambda: view(h_n, D, L))
        return
    wrong = _warned(
        lambda: view(h_n, D, L),
        rf"viewed as \({D}, {L}, .*reads its rows direction-major, but they are "
        rf"layer-major .*h_n\.view\({L}, {D}, .*\"\(l d\) b h -> l d b h\"",
    )
    assert bh.annotation_of(wrong) is None  # no name for rows read the wrong way


# -- 3. out[:, -1] of a time-major layer --------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(held=calls())
def test_last_index_on_the_batch_axis_of_a_time_major_out(held: dict[str, Any]) -> None:
    out = held["out"]
    if held["batch_first"]:
        forward = _silent(lambda: out[:, -1, : held["H"]])  # the last token's forward half
        assert torch.equal(forward, held["h_n"][-held["D"]])
        return
    picked = _warned(
        lambda: out[:, -1],
        r"\[:, -1\] takes the last sequence of the batch, not the last token: the layer "
        r"is time-major .*axis 1 is batch.*h_n.*bh\.last_outputs.*out\[lengths - 1",
    )
    assert torch.equal(picked, out.transpose(0, 1)[-1])  # what it is: the last sequence


def test_other_batch_rows_and_the_last_token_of_a_time_major_out_are_silent() -> None:
    gru = nn.GRU(2, 3)
    rec = bh.attach_hooks(gru)
    out, h_n = gru(torch.randn(5, 4, 2))
    rows = _silent(lambda: [out[:, i] for i in range(out.shape[1])])
    assert all(torch.equal(r, out.transpose(0, 1)[i]) for i, r in enumerate(rows))
    last = _silent(lambda: out[-1])
    names = bh.annotation_of(last)
    assert names is not None
    assert names.pattern == "batch (direction hidden)"
    assert torch.equal(last, h_n[0])
    rec.remove()


# -- 4. rows of different layers and directions joined ------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", [2, 3])
def test_first_and_last_rows_joined_mix_layers_and_directions(kind: Any, layers: int) -> None:
    layer = kind(2, 3, num_layers=layers, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(layer)
    _, state = layer(torch.randn(4, 5, 2))
    h_n = state[0] if isinstance(state, tuple) else state
    message = (
        rf"different layers and different directions {{op}}: layer 0 direction 0, layer "
        rf"{layers - 1} direction 1\. The last layer's two directions are rows -2 and -1"
    )
    _warned(lambda: torch.cat([h_n[0], h_n[-1]], -1), message.format(op="joined"))
    _warned(lambda: h_n[0] + h_n[-1], message.format(op="added"))
    right = _silent(lambda: torch.cat([h_n[-2], h_n[-1]], -1))
    names = bh.annotation_of(right)
    assert names is not None
    assert names.pattern == "batch (direction hidden)"
    assert names.at == {"layer": layers - 1}
    _silent(lambda: h_n[-2] + h_n[-1])
    every = _silent(lambda: torch.cat([h_n[k] for k in range(2 * layers)], -1))
    assert torch.equal(every, torch.cat(torch.unbind(h_n), -1))
    rec.remove()


@pytest.mark.parametrize("kind", KINDS)
def test_both_rows_of_a_one_layer_bidirectional_layer_are_silent(kind: Any) -> None:
    layer = kind(2, 3, bidirectional=True)
    rec = bh.attach_hooks(layer)
    _, state = layer(torch.randn(5, 4, 2))
    h_n = state[0] if isinstance(state, tuple) else state
    joined = _silent(lambda: torch.cat([h_n[0], h_n[1]], -1))
    names = bh.annotation_of(joined)
    assert names is not None
    assert names.pattern == "batch (direction hidden)"
    assert torch.equal(joined[:, 3:], h_n[1])
    _silent(lambda: h_n[0] + h_n[-1])
    rec.remove()
