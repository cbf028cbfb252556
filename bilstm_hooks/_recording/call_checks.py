"""Reading a recurrent call for the hook: its structure, shapes and who to name in messages.

The hook's slow paths, kept apart from its hot path in `_hook.py`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._names.layout import Layout, quoted_label_of

__all__ = [
    "detached",
    "detached_state",
    "expected",
    "is_fake",
    "structure",
    "who",
    "wrong_shapes",
]


def who(name: str, module: nn.Module) -> str:
    """`'encoder' (LSTM)`, or `<LSTM>` for a hooked root module: for messages."""
    label = quoted_label_of(name, module)
    return f"{label} ({type(module).__name__})" if name else label


def is_fake(tensor: torch.Tensor) -> bool:
    """A FakeTensor or FunctionalTensor (torch.export, torch.compile), or a meta
    tensor made while compiling: tensors of a trace, not of a call."""
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(tensor)) or torch.compiler.is_compiling()


def expected(module: nn.Module) -> str:
    state = "(h_n, c_n)" if isinstance(module, nn.LSTM) else "h_n"
    return f"expected the forward to return (out, {state}) as nn.{type(module).__name__} does"


def structure(value: Any) -> str:
    """`(tensor (2, 6, 8), tensor (2, 2, 4))`: the shape of an output, for messages."""
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)}"
    if isinstance(value, PackedSequence):
        return f"PackedSequence {tuple(value.data.shape)}"
    if isinstance(value, tuple | list) and len(value) <= 4:
        inner = ", ".join(structure(v) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    return type(value).__qualname__


def wrong_shapes(
    layout: Layout, out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor | None
) -> str:
    """What differs from the layout's shapes in out (`.data` if packed), h_n and c_n, or ""."""
    out_axes = layout.axes("out")
    if layout.packed:
        out_ok = out.dim() == 2 and out.shape[-1] == out_axes.shape[-1]
    else:
        out_ok = out_axes.matches(out.shape)
    wrong = [] if out_ok else [f"out {out_axes.expected()}, got {tuple(out.shape)}"]
    states = [("h_n", h_n)] + ([("c_n", c_n)] if c_n is not None else [])
    for role, tensor in states:
        axes = layout.axes(role)  # type: ignore[arg-type]
        if not axes.matches(tensor.shape):
            wrong.append(f"{role} {axes.expected()}, got {tuple(tensor.shape)}")
    if (c_n is None) == (layout.kind == "LSTM"):
        wrong.append("c_n " + ("missing" if c_n is None else "unexpected"))
    return "; ".join(wrong)


def detached(t: PackedSequence) -> PackedSequence:
    return PackedSequence(t.data.detach(), t.batch_sizes, t.sorted_indices, t.unsorted_indices)


def detached_state(hx: Any) -> Any:
    """The initial state given to the call, detached where it holds a graph."""
    if isinstance(hx, torch.Tensor):
        return hx.detach() if hx.requires_grad else hx
    if isinstance(hx, tuple):
        return tuple(detached_state(part) for part in hx)
    return hx
