"""A bidirectional layer whose last-layer forward (or backward) direction never reaches
what a followed forward returns warns once, at the end of the forward.

The oracle is the values: a direction is unused exactly when changing its weights (the
last layer's `*_l{k}` or `*_l{k}_reverse` parameters) leaves the forward's output
bitwise the same. Every warning must be true by that test (a false one is a bug), and
the common forms (`h_n[-1]`, `h_n[-2]`, either half of `out`) must warn.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

Body = Callable[[torch.Tensor, torch.Tensor, int, int], Any]  # out, h_n, hidden, layers


def written_in_place(out: torch.Tensor, h: torch.Tensor, H: int, L: int) -> torch.Tensor:
    forward = torch.zeros(h[-2].shape)  # made from no value of the layer's
    forward[...] = h[-2]  # a buffer holds the forward row
    return torch.cat([forward, h[-1]], -1)


def copied(out: torch.Tensor, h: torch.Tensor, H: int, L: int) -> torch.Tensor:
    backward = torch.empty(h[-1].shape).copy_(h[-1])
    return torch.cat([h[-2], backward], -1)


BODIES: dict[str, Body] = {
    "buffer[...] = h_n[-2]": written_in_place,
    "empty.copy_(h_n[-1])": copied,
    "h_n[-1]": lambda out, h, H, L: h[-1],
    "h_n[-2]": lambda out, h, H, L: h[-2],
    "cat(h_n[-2], h_n[-1])": lambda out, h, H, L: torch.cat([h[-2], h[-1]], -1),
    "h_n[-2:]": lambda out, h, H, L: h[-2:],
    "h_n[-1] + h_n[-2]": lambda out, h, H, L: h[-1] + h[-2],
    "h_n": lambda out, h, H, L: h,
    "h_n[0]": lambda out, h, H, L: h[0],
    "h_n[0] + h_n[-1]": lambda out, h, H, L: h[0] + h[-1],
    "h_n[-3:-1]": lambda out, h, H, L: h[-3:-1],
    "unbind(h_n)[-1]": lambda out, h, H, L: torch.unbind(h)[-1],
    "h_n.narrow(0, -2, 1)": lambda out, h, H, L: h.narrow(0, 2 * L - 2, 1),
    "h_n.view(L, 2, ...)[-1, 0]": lambda out, h, H, L: h.view(L, 2, *h.shape[1:])[-1, 0],
    "out": lambda out, h, H, L: out,
    "out[..., :H]": lambda out, h, H, L: out[..., :H],
    "out[..., H:]": lambda out, h, H, L: out[..., H:],
    "out.chunk(2, -1)[0]": lambda out, h, H, L: out.chunk(2, -1)[0],
    "out[..., 1:H + 1]": lambda out, h, H, L: out[..., 1 : H + 1],
    "out.view(..., 2, H)[..., 1, :]": lambda out, h, H, L: out.view(*out.shape[:-1], 2, H)[
        ..., 1, :
    ],
    "out.mean(-2)": lambda out, h, H, L: out.mean(-2),
    "tanh(h_n[-1]), returned with h_n": lambda out, h, H, L: (torch.tanh(h[-1]), h),
}
MUST_WARN: dict[str, Callable[[int], int | None]] = {  # by layers: the direction unused
    "h_n[-1]": lambda L: 0,
    "h_n[-2]": lambda L: 1,
    "h_n[0] + h_n[-1]": lambda L: 0 if L > 1 else None,  # h_n[0]: layer 0's forward row
    "unbind(h_n)[-1]": lambda L: 0,
    "out[..., :H]": lambda L: 1,
    "out[..., H:]": lambda L: 0,
    "out.chunk(2, -1)[0]": lambda L: 1,
    "out.view(..., 2, H)[..., 1, :]": lambda L: 0,
}


class Model(nn.Module):
    def __init__(self, layer: nn.RNNBase, body: Body, lengths: list[int] | None) -> None:
        super().__init__()
        self.rnn = layer
        self.body = body
        self.lengths = lengths

    def forward(self, x: torch.Tensor) -> Any:
        first = self.rnn.batch_first
        if self.lengths is not None:
            x = pack_padded_sequence(x, self.lengths, batch_first=first, enforce_sorted=False)
        out, state = self.rnn(x)
        if isinstance(out, PackedSequence):
            out, _ = pad_packed_sequence(out, batch_first=first)
        h_n = state[0] if isinstance(state, tuple) else state
        layer = self.rnn
        return self.body(out, h_n, layer.proj_size or layer.hidden_size, layer.num_layers)


def flat(output: Any) -> torch.Tensor:
    parts = output if isinstance(output, tuple) else (output,)
    return torch.cat([p.reshape(-1) for p in parts])


def unused_by_the_values(model: Model, x: torch.Tensor) -> set[int]:
    """The directions of the last layer whose weights do not change the output."""
    bare = flat(model(x))
    last = model.rnn.num_layers - 1
    unused = set()
    for direction, suffix in ((0, f"_l{last}"), (1, f"_l{last}_reverse")):
        changed = copy.deepcopy(model)
        with torch.no_grad():
            for name, param in changed.rnn.named_parameters():
                if name.endswith(suffix):
                    param.add_(torch.randn_like(param))
        if torch.equal(flat(changed(x)), bare):
            unused.add(direction)
    return unused


def warned(model: Model, x: torch.Tensor, calls: int = 1) -> list[warnings.WarningMessage]:
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(calls):
            model(x)
    return [w for w in caught if issubclass(w.category, bh.UnusedDirectionWarning)]


def lacking(caught: list[warnings.WarningMessage]) -> set[int]:
    return {0 if "its forward direction never" in str(w.message) else 1 for w in caught}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Model, torch.Tensor, str]:
    kind = draw(st.sampled_from(["LSTM", "GRU", "RNN"]), label="kind")
    layers = draw(st.integers(1, 3), label="layers")
    first = draw(st.booleans(), label="batch_first")
    form = draw(st.sampled_from(["batched", "unbatched", "packed"]), label="form")
    proj = kind == "LSTM" and draw(st.booleans(), label="proj_size")
    name = draw(st.sampled_from(sorted(BODIES)), label="body")
    torch.manual_seed(draw(st.integers(0, 2**16), label="seed"))
    options = {"proj_size": 2} if proj else {}
    layer = getattr(nn, kind)(3, 4, layers, bidirectional=True, batch_first=first, **options)
    batch, tokens = 3, 5
    shape = (batch, tokens, 3) if first else (tokens, batch, 3)
    x = torch.randn(shape[1:] if form == "unbatched" and first else shape)
    if form == "unbatched":
        x = torch.randn(tokens, 3)
    lengths = [2, 5, 4] if form == "packed" else None
    return Model(layer, BODIES[name], lengths), x, name


@given(case=cases())
def test_a_warned_direction_is_unused_in_the_values_and_the_common_forms_warn(
    case: tuple[Model, torch.Tensor, str],
) -> None:
    model, x, name = case
    unused = unused_by_the_values(model, x)
    said = lacking(warned(model, x))
    assert said <= unused, f"{name}: warned {said}, but the values use them"
    if name in MUST_WARN:
        must = MUST_WARN[name](model.rnn.num_layers)
        assert said == unused == (set() if must is None else {must}), name


def test_it_warns_once_per_layer_at_the_models_call() -> None:
    model = Model(nn.GRU(3, 4, 2, bidirectional=True), BODIES["h_n[-1]"], None)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(torch.randn(5, 2, 3))  # the call
        model(torch.randn(5, 2, 3))
    found = [w for w in caught if issubclass(w.category, bh.UnusedDirectionWarning)]
    assert len(found) == 1
    assert found[0].filename == __file__
    assert str(found[0].message).startswith(
        "rnn's last layer: its forward direction never reaches what the forward returns, "
        "only its backward one does (h_n[-1] is the last layer's backward row)"
    )


def test_a_filter_says_one_direction_is_meant() -> None:
    model = Model(nn.LSTM(3, 4, bidirectional=True), BODIES["h_n[-2]"], None)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=bh.UnusedDirectionWarning)
        model(torch.randn(5, 2, 3))


def test_a_unidirectional_layer_and_a_block_never_warn() -> None:
    uni = Model(nn.LSTM(3, 4, 2), BODIES["h_n[-1]"], None)
    assert warned(uni, torch.randn(5, 2, 3)) == []
    lstm = nn.LSTM(3, 4, bidirectional=True)
    bh.attach_hooks(lstm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with bh.follow():
            _, (h_n, _) = lstm(torch.randn(5, 2, 3))
            h_n[-1].sum()


def test_in_no_grad_and_with_the_layer_hooked_alone_it_warns_the_same() -> None:
    model = Model(nn.RNN(3, 4, bidirectional=True), BODIES["out[..., H:]"], None)
    with torch.no_grad():
        assert lacking(warned(model, torch.randn(5, 2, 3))) == {0}


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_following_the_directions_changes_no_value_or_gradient(kind: str) -> None:
    torch.manual_seed(0)
    model = Model(getattr(nn, kind)(3, 4, 2, bidirectional=True), BODIES["h_n[-1]"], None)
    twin = copy.deepcopy(model)
    x = torch.randn(5, 2, 3)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = model(x)
    want = twin(x)
    assert torch.equal(got, want)
    got.sum().backward()
    want.sum().backward()
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
        assert torch.equal(a.grad, b.grad) if b.grad is not None else a.grad is None, name


def test_after_enough_clean_forwards_in_a_mode_that_mode_is_no_longer_checked() -> None:
    from bilstm_hooks._follow.reach import CHECKS

    model = Model(nn.LSTM(3, 4, bidirectional=True), BODIES["cat(h_n[-2], h_n[-1])"], None)
    x = torch.randn(5, 2, 3)
    assert warned(model, x, calls=CHECKS) == []  # training: checked, clean each time
    model.body = BODIES["h_n[-1]"]
    assert warned(model, x) == []  # training: checked enough, no longer followed so
    model.eval()
    assert lacking(warned(model, x)) == {0}  # eval: its first check
