"""A hooked layer's own input errors explained: what it expected, in names, and what arrived.

torch's `input.size(-1) must be equal to input_size. Expected 8, got 16` or `Expected
hidden[0] size (2, 4, 64), got [1, 4, 64]` names no tensor. When a hooked layer raises
on its arguments, the exception gains a note (`add_note`, its type and message
unchanged) with the layout the layer reads each argument as, and each argument by the
user's variable name, with its names where it has some (an encoder's `h_n`, say). It
runs from the `except` clause of the layer's wrapped `forward` (`entrance`): nothing
until the call raises.

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> decoder = torch.nn.GRU(8, 16)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"decoder": decoder}))
    >>> x = torch.randn(5, 3, 6)
    >>> try:
    ...     decoder(x)
    ... except RuntimeError as error:
    ...     print(error.__notes__[0].splitlines()[1])
      input as token batch feature = (5, 3, 8), got `x`: shape (5, 3, 6), no names
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._base.callers import local_names, user_frame
from .._base.errors import add_note, has_note
from .._core.lookup import annotation_of
from .._follow.explain import operand_line, user_names
from .._names.layout import Axes, Layout

__all__ = ["argument_names", "explain_call", "states_of"]

_no_torch_function = torch._C.DisableTorchFunction


def explain_call(exc: Exception, module: nn.Module, label: str, input: Any, hx: Any) -> None:
    """Add the note to `exc`, raised by hooked `module` (shown as `label`) called on
    `input` and `hx` (never raising: the note must not hide the error)."""
    if isinstance(exc, Warning) or has_note(exc):
        return
    try:
        with _no_torch_function():
            note = _note(module, label, input, hx)
    except Exception:
        return
    if note is not None:
        add_note(exc, note)


def _note(module: nn.Module, label: str, input: Any, hx: Any) -> str | None:
    data = input.data if isinstance(input, PackedSequence) else input
    if not isinstance(data, torch.Tensor):
        return None
    layout = Layout.of(module, input)  # its batch and tokens, whatever the feature size
    states = states_of(hx)
    frame = user_frame(sys._getframe(3))  # above `explain_call` and the wrapped forward
    names = argument_names(frame, [data, *states], hx)

    def got(tensor: torch.Tensor) -> str:
        called = f"`{names[id(tensor)]}`: " if id(tensor) in names else ""
        return f"got {called}{operand_line(tensor, annotation_of(tensor))}"

    input_axes = layout.axes("input")
    if isinstance(input, PackedSequence):
        input_axes = Axes.of(
            (("packed",), ("feature",)), {"packed": data.shape[0], **input_axes.size_of}
        )
    lines = [
        f"bilstm_hooks: {label} ({layout.describe_module()}) expected:",
        f"  input as {input_axes.expected()}, {got(data)}",
    ]
    for role, state in zip(("h_0", "c_0"), states, strict=False):
        axes = layout.axes("h_n" if role == "h_0" else "c_n")
        lines.append(f"  {role} as {axes.expected()}, {got(state)}")
    return "\n".join(lines)


def states_of(hx: Any) -> list[torch.Tensor]:
    """The tensors of a layer's `hx`: `h_0`, or `h_0` and `c_0` of a tuple or a list
    (torch takes a list too), whatever else it holds left out."""
    states = (
        [hx] if isinstance(hx, torch.Tensor) else list(hx) if isinstance(hx, tuple | list) else []
    )
    return [state for state in states if isinstance(state, torch.Tensor)]


def argument_names(frame: FrameType | None, tensors: list[torch.Tensor], hx: Any) -> dict[int, str]:
    """The user's names of a layer's arguments (`user_names`), and `hidden[0]`, `hidden[1]`
    for the states of an `hx` the user holds as a tuple."""
    names = user_names(frame, tensors)
    if isinstance(hx, tuple | list):
        held = local_names(frame, [hx]).get(id(hx))  # a tuple literal is held by none
        for index, state in enumerate(hx):
            if held is not None and id(state) not in names:
                names[id(state)] = f"{held}[{index}]"
    return names
