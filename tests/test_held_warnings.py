"""`out[:, -1]` of a bidirectional layer warns where it is used, not where it is taken.

Both halves at the last token are wrong as a final state (the backward half there has
read one token) but right as one end of a tagger's `cat([out[:, -1], out[:, 0]], -1)`.
The warning is held on the value, carried through the ops made from it, and given at a
Linear, a matrix product, a loss or a join without token 0, or at the end of the
followed code for a value still alive there. A value joined with its token 0, or
dropped unused, is silent.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

import bilstm_hooks as bh

HIDDEN = 4


class Model(nn.Module):
    """A bidirectional layer and a head whose forward is `body(self, out)`."""

    def __init__(self, body: Callable[..., Any], kind: str = "LSTM", batch_first: bool = True):
        super().__init__()
        self.rnn = getattr(nn, kind)(3, HIDDEN, bidirectional=True, batch_first=batch_first)
        self.fc = nn.Linear(2 * HIDDEN, 5)
        self.ends = nn.Linear(4 * HIDDEN, 5)
        self.drop = nn.Dropout(0.5)
        self.body = body

    def forward(self, x: torch.Tensor) -> Any:
        out, _ = self.rnn(x)
        return self.body(self, out)


def layout_warnings(model: nn.Module, x: torch.Tensor) -> list[warnings.WarningMessage]:
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(x)
    return [w for w in caught if issubclass(w.category, bh.LayoutWarning)]


def both_ends(m: Model, out: torch.Tensor) -> torch.Tensor:  # the tagger's, on purpose
    return m.ends(torch.cat([m.drop(out[:, -1]), m.drop(out[:, 0])], -1))


def both_ends_time_major(m: Model, out: torch.Tensor) -> torch.Tensor:
    return m.ends(torch.cat([out[-1], out[0]], dim=1).relu())


def head_on_last(m: Model, out: torch.Tensor) -> torch.Tensor:
    last = out[:, -1]
    hidden = torch.tanh(m.drop(last))
    return m.fc(hidden)  # the use


def last_with_context(m: Model, out: torch.Tensor) -> torch.Tensor:
    context = out.mean(1)
    return m.ends(torch.cat([out[:, -1], context], -1))  # joined, not with token 0


def returned(m: Model, out: torch.Tensor) -> torch.Tensor:
    out[:, -1].tanh()  # dropped unused: silent
    return out[:, -1]


def dropped(m: Model, out: torch.Tensor) -> torch.Tensor:
    out[:, -1].sigmoid()
    return out.sum(1)


def line_of(body: Callable[..., Any], text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(body)
    return start + next(i for i, line in enumerate(lines) if text in line)


@given(
    kind=st.sampled_from(["LSTM", "GRU", "RNN"]),
    batch=st.integers(1, 3),
    tokens=st.integers(2, 5),
)
def test_a_tagger_joining_both_ends_is_silent(kind: str, batch: int, tokens: int) -> None:
    for body, batch_first in ((both_ends, True), (both_ends_time_major, False)):
        shape = (batch, tokens, 3) if batch_first else (tokens, batch, 3)
        assert layout_warnings(Model(body, kind, batch_first), torch.randn(shape)) == []


@given(kind=st.sampled_from(["LSTM", "GRU", "RNN"]), tokens=st.integers(2, 5))
def test_a_head_on_the_last_token_warns_once_at_the_head(kind: str, tokens: int) -> None:
    model = Model(head_on_last, kind)
    caught = layout_warnings(model, torch.randn(2, tokens, 3))
    assert len(caught) == 1
    assert "at its last token, both halves, used here" in str(caught[0].message)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line_of(head_on_last, "the use"))
    # what it says holds in the values: the backward half there has read one token only,
    # and the final backward state is at token 0
    x = torch.randn(2, tokens, 3)
    out, h_n = model.rnn(x)
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    alone, _ = model.rnn(x[:, -1:])
    assert torch.allclose(out[:, -1, HIDDEN:], alone[:, 0, HIDDEN:])
    assert torch.allclose(out[:, 0, HIDDEN:], h_n[-1])
    assert not torch.allclose(out[:, -1, HIDDEN:], h_n[-1])


def test_a_join_without_token_0_warns_at_the_join() -> None:
    caught = layout_warnings(Model(last_with_context), torch.randn(2, 5, 3))
    assert len(caught) == 1
    assert caught[0].lineno == line_of(last_with_context, "joined, not with token 0")


def test_token_0_of_another_layer_does_not_excuse_it() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.GRU(3, HIDDEN, bidirectional=True, batch_first=True)
            self.b = nn.GRU(3, HIDDEN, bidirectional=True, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, _ = self.a(x)
            b, _ = self.b(x)
            return torch.cat([a[:, -1], b[:, 0]], -1)

    caught = layout_warnings(Two(), torch.randn(2, 5, 3))
    assert [str(w.message).split(" (")[0] for w in caught] == ["a.out"]


def test_a_value_returned_warns_at_the_models_call() -> None:
    model = Model(returned)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(torch.randn(2, 5, 3))  # the call
    found = [w for w in caught if issubclass(w.category, bh.LayoutWarning)]
    assert len(found) == 1
    assert "kept to the end of the followed code" in str(found[0].message)
    assert found[0].lineno == line_of(test_a_value_returned_warns_at_the_models_call, "the call")


def test_a_value_taken_and_dropped_is_silent() -> None:
    assert layout_warnings(Model(dropped), torch.randn(2, 5, 3)) == []


def test_in_a_block_a_kept_value_warns_at_its_end_and_a_used_one_at_its_use() -> None:
    gru = nn.GRU(3, HIDDEN, bidirectional=True, batch_first=True)
    bh.attach_hooks(gru)
    out, _ = gru(torch.randn(2, 5, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bh.follow():
            kept = out[:, -1]
            F.linear(out[:, -1], torch.ones(2, 2 * HIDDEN))
    messages = [str(w.message) for w in caught if issubclass(w.category, bh.LayoutWarning)]
    assert len(messages) == 2
    assert "used here" in messages[0]
    assert "kept to the end" in messages[1]
    assert kept.shape == (2, 2 * HIDDEN)


def test_each_call_warns_for_itself_and_nothing_leaks_into_the_next() -> None:
    model = Model(head_on_last)
    assert len(layout_warnings(model, torch.randn(2, 5, 3))) == 1
    model.body = both_ends
    assert layout_warnings(model, torch.randn(2, 5, 3)) == []
    model.body = head_on_last
    assert len(layout_warnings(model, torch.randn(2, 5, 3))) == 1


def test_under_w_error_the_use_raises() -> None:
    model = Model(head_on_last)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bh.LayoutWarning)
        with pytest.raises(bh.LayoutWarning, match="used here"):
            model(torch.randn(2, 5, 3))
    assert torch._C._len_torch_function_stack() == 0


def test_holding_changes_no_value() -> None:
    model = Model(head_on_last)
    x = torch.randn(2, 5, 3)
    model.eval()
    bare = model(x)
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.equal(model(x), bare)
