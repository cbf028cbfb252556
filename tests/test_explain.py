"""Exceptions explained in names, at the user's line (issue 19, item 2).

A user's op that raises inside a followed forward or a `bh.follow()` block keeps torch's
type and message, gains a note naming its named operands, and its traceback ends where
it ends without the library. A hooked layer's own argument errors gain a note with the
layout it expected. Each test runs the same code with and without the library and
compares.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import bilstm_hooks as bh

PACKAGE = str(Path(bh.__file__).parent)


def raised(run: Callable[[], Any]) -> BaseException:
    try:
        run()
    except Exception as exc:
        return exc
    raise AssertionError("expected the call to raise")


def frames(exc: BaseException) -> list[tuple[str, str]]:
    return [(f.filename, f.name) for f in traceback.extract_tb(exc.__traceback__)]


def notes(exc: BaseException) -> list[str]:
    return [n for n in getattr(exc, "__notes__", []) if n.startswith("bilstm_hooks")]


class Classifier(nn.Module):
    """The classic: both directions' rows joined (128 wide) into a Linear built for 64."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(8, 64, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _out, (h_n, _c_n) = self.encoder(x)
        final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return self.fc(final)


def test_a_linear_after_a_bidirectional_layer_is_explained_and_its_traceback_is_torchs() -> None:
    x = torch.randn(4, 5, 8)
    plain = raised(lambda: Classifier()(x))
    model = Classifier()
    bh.attach_hooks(model, follow=True)
    followed = raised(lambda: model(x))
    assert type(followed) is type(plain)
    assert str(followed) == str(plain)
    (note,) = notes(followed)
    first, second = note.splitlines()
    assert first == (
        "bilstm_hooks: fc (Linear(64, 10)) expected 64 features, got 128 = direction=2 × hidden=64:"
    )
    assert second.startswith(
        "  `final`: batch=4 (direction=2 hidden=64), shape (4, 128) · encoder.h_n"
    )
    # the same frames as without the library: none of ours, the last one torch's Linear
    assert frames(followed)[-4:] == frames(plain)[-4:]
    assert not [f for f, _ in frames(followed) if f.startswith(PACKAGE)]


def test_without_follow_a_failing_forward_gains_no_note() -> None:
    model = Classifier()
    bh.attach_hooks(model)
    assert notes(raised(lambda: model(torch.randn(4, 5, 8)))) == []


@pytest.fixture
def call() -> tuple[torch.Tensor, torch.Tensor]:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    bh.attach_hooks(lstm)
    out, (h_n, _c_n) = lstm(torch.randn(6, 2, 3))
    return out, h_n


OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]] = {
    "matmul": lambda out, h_n: out[-1] @ torch.zeros(5, 3),
    "mm": lambda out, h_n: torch.mm(out[-1], torch.zeros(5, 3)),
    "bmm": lambda out, h_n: torch.bmm(out, torch.zeros(6, 5, 3)),
    "cat": lambda out, h_n: torch.cat([out, h_n], dim=-1),
    "stack": lambda out, h_n: torch.stack([out[-1], h_n[-1]]),
    "view": lambda out, h_n: h_n.view(2, 3, -1),
    "reshape": lambda out, h_n: out.reshape(7, -1),
    "broadcast": lambda out, h_n: out + h_n[-1],
    "linear": lambda out, h_n: nn.functional.linear(out, torch.zeros(2, 4)),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_each_shape_error_in_a_block_names_its_operands(
    call: tuple[torch.Tensor, torch.Tensor], op: str
) -> None:
    out, h_n = call
    plain = raised(lambda: OPS[op](out.detach().clone(), h_n.detach().clone()))
    with pytest.raises(type(plain)) as info, bh.follow():
        OPS[op](out, h_n)
    assert str(info.value) == str(plain)
    (note,) = notes(info.value)
    lines = note.splitlines()
    assert lines[0].startswith("bilstm_hooks: ")
    named = [line for line in lines[1:] if "<LSTM>." in line]
    assert named, note  # an operand named by its origin
    for line in named:  # the user's variable (or a view of it), its names and its shape
        assert line.startswith(("  `out", "  `h_n")), note
        assert "shape (" in line
    # the traceback ends at this test's line, as it does without the library
    assert frames(info.value)[-1] == (*frames(plain)[-1][:1], frames(info.value)[-1][1])
    assert not [f for f, _ in frames(info.value) if f.startswith(PACKAGE)]


def test_an_error_among_unnamed_tensors_gains_no_note() -> None:
    with pytest.raises(RuntimeError) as info, bh.follow():
        torch.zeros(2, 3) @ torch.zeros(2, 3)
    assert notes(info.value) == []


def test_the_matmul_note_says_which_sizes_differ(call: tuple[torch.Tensor, torch.Tensor]) -> None:
    out, _ = call
    weight = torch.zeros(5, 3)
    with pytest.raises(RuntimeError) as info, bh.follow():
        out[-1] @ weight
    first = notes(info.value)[0].splitlines()[0]
    assert first == (
        "bilstm_hooks: matmul expected the last axis of `out[-1]` (8) to match the second to "
        "last of `weight` (5):"
    )


def test_a_layers_input_size_error_names_what_it_expected() -> None:
    decoder = nn.GRU(8, 16, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"decoder": decoder}))
    x = torch.randn(4, 5, 6)
    plain = raised(lambda: nn.GRU(8, 16, batch_first=True)(x))
    error = raised(lambda: decoder(x))
    assert type(error) is type(plain)
    assert str(error) == str(plain)
    (note,) = notes(error)
    assert note.splitlines() == [
        "bilstm_hooks: decoder (GRU, 1 layer, unidirectional, batch_first=True) expected:",
        "  input as batch token feature = (4, 5, 8), got `x`: shape (4, 5, 6), no names",
    ]


def test_a_state_from_a_bigger_batch_is_named_in_the_note() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2)
    bh.attach_hooks(nn.ModuleDict({"lm": lstm}))
    _out, hidden = lstm(torch.randn(5, 8, 3))
    last_batch = torch.randn(5, 3, 3)  # a shorter last batch, the state of a full one
    error = raised(lambda: lstm(last_batch, hidden))
    assert "Expected hidden[0] size (2, 3, 4), got [2, 8, 4]" in str(error)
    lines = notes(error)[0].splitlines()
    assert lines[1] == (
        "  input as token batch feature = (5, 3, 3), got `last_batch`: shape (5, 3, 3), no names"
    )
    assert lines[2].startswith(
        "  h_0 as (layer direction) batch hidden = ((2 1), 3, 4), got `hidden[0]`: "
        "(layer=2 direction=1) batch=8 hidden=4, shape (2, 8, 4) · lm.h_n"
    )
    assert lines[3].startswith("  c_0 as (layer direction) batch hidden = ((2 1), 3, 4)")


def test_an_unhooked_layers_error_is_torchs_alone() -> None:
    bh.attach_hooks(nn.GRU(3, 4))  # the wrapper is installed; this layer is not hooked
    error = raised(lambda: nn.GRU(8, 4)(torch.randn(5, 2, 3)))
    assert notes(error) == []


def test_a_note_is_added_once_however_many_frames_it_passes() -> None:
    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Classifier()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    model = Outer()
    bh.attach_hooks(model, follow=True)
    assert len(notes(raised(lambda: model(torch.randn(4, 5, 8))))) == 1


def test_a_block_that_raises_warns_about_no_value_it_held(
    call: tuple[torch.Tensor, torch.Tensor],
) -> None:
    out, _ = call
    with pytest.raises(RuntimeError, match="cannot be multiplied"), bh.follow():  # noqa: PT012
        kept = out[-1]  # held for a warning at its use, or at the block's end
        kept @ torch.zeros(5, 3)  # the block never ends as written: nothing to warn
    assert kept.shape == (2, 8)


def test_without_add_note_the_note_follows_the_message() -> None:
    """Python 3.10 has no `add_note`: the note goes on a new line after the message."""
    from bilstm_hooks._base.errors import add_note

    class Old(RuntimeError):  # an exception as 3.10 makes them: no add_note
        @property
        def add_note(self) -> Any:  # type: ignore[override]
            raise AttributeError("add_note")

    error = Old("mat1 and mat2 shapes cannot be multiplied (4x128 and 64x10)")
    add_note(error, "bilstm_hooks: fc expected 64 features")
    add_note(error, "bilstm_hooks: a second note")  # once per exception
    assert error.args == (
        "mat1 and mat2 shapes cannot be multiplied (4x128 and 64x10)\n"
        "bilstm_hooks: fc expected 64 features",
    )
    assert type(error) is Old
    assert not hasattr(error, "__notes__")


def test_a_state_given_as_a_tuple_literal_is_explained_by_its_parts_names() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2)
    bh.attach_hooks(nn.ModuleDict({"lm": lstm}))
    h0, c0 = torch.zeros(2, 8, 4), torch.zeros(2, 8, 4)  # a full batch's, for a batch of 3
    error = raised(lambda: lstm(torch.randn(5, 3, 3), (h0, c0)))
    lines = notes(error)[0].splitlines()
    assert lines[2] == (
        "  h_0 as (layer direction) batch hidden = ((2 1), 3, 4), got `h0`: shape (2, 8, 4), "
        "no names"
    )
    assert lines[3].startswith("  c_0 as (layer direction) batch hidden = ((2 1), 3, 4), got `c0`")
