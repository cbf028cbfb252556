"""Exceptions explained in names: the note a failing op gains while names are followed.

When a user's op raises inside a followed forward or a `bh.follow()` block, and one of
its operands has names, the exception gains a note (`add_note`; on Python 3.10, a line
after its message) that calls each operand by the user's variable name and says what it
holds: `fc expected 64 features, got 128 from final: batch=4 (direction=2 hidden=64) ·
encoder.h_n: layer 1`. Its type and message stay torch's. Nothing here runs until an
op raises: the mode calls `explain` from an `except` clause, which costs nothing on
Python 3.11 until an exception happens.

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True)
    >>> rec = bh.attach_hooks(lstm)
    >>> out, (h_n, c_n) = lstm(torch.randn(6, 2, 3))
    >>> weight = torch.zeros(5, 4)
    >>> try:
    ...     with bh.follow():
    ...         out[-1] @ weight
    ... except RuntimeError as error:
    ...     print(error.__notes__[0].splitlines()[0][:60])
    bilstm_hooks: matmul expected the last axis of `out[-1]` (8)
"""

from __future__ import annotations

import math
import sys
from types import FrameType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._base.callers import local_names, user_frame
from .._base.errors import add_note, has_note
from .._base.packed import tensors_in
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._core.providers import provider

__all__ = ["explain", "operand_line", "user_names"]

_no_torch_function = torch._C.DisableTorchFunction
_LINEAR = (F.linear, torch._C._nn.linear)
_MATMUL = {
    torch.matmul, torch.mm, torch.bmm, torch.Tensor.matmul, torch.Tensor.mm, torch.Tensor.bmm,
    torch.Tensor.__matmul__, torch.Tensor.__rmatmul__,
}  # fmt: skip
_RESHAPE = {torch.Tensor.view, torch.Tensor.reshape, torch.reshape}
_OPERANDS_SHOWN = 6


def explain(exc: Exception, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Add the note naming `func`'s operands to `exc`, if one of them has names (never
    raising: an explanation must not hide the error it explains)."""
    if isinstance(exc, Warning) or has_note(exc):
        return
    try:
        with _no_torch_function():
            note = _note(func, args, kwargs, user_frame(sys._getframe(1)))
    except Exception:
        return
    if note is not None:
        add_note(exc, note)


def _note(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], frame: FrameType | None
) -> str | None:
    operands = list(tensors_in((*args, *kwargs.values())))
    annotations = {id(t): annotation_of(t) for t in operands}
    if not any(annotations.values()):
        return None
    names = user_names(frame, operands)

    def called(tensor: torch.Tensor) -> str:
        return f"`{names[id(tensor)]}`" if id(tensor) in names else "a temporary value"

    name = _op_name(func)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    head = f"bilstm_hooks: {name} got"
    if func in _LINEAR and len(tensors) >= 2:
        input, weight = tensors[0], tensors[1]
        head = (
            f"bilstm_hooks: {_linear_name(weight, frame)} expected {weight.shape[-1]} features, "
            f"got {input.shape[-1]}{_width(annotations[id(input)])}"
        )
        operands = [input]
    elif func in _MATMUL and len(tensors) == 2 and min(t.dim() for t in tensors) >= 1:
        a, b = tensors if func is not torch.Tensor.__rmatmul__ else tensors[::-1]
        inner = b.shape[-2] if b.dim() >= 2 else b.shape[0]
        which = "second to last" if b.dim() >= 2 else "only"
        head = (
            f"bilstm_hooks: matmul expected the last axis of {called(a)} ({a.shape[-1]}) to "
            f"match the {which} of {called(b)} ({inner})"
        )
    elif func in _RESHAPE and tensors:
        shape = _asked_shape(args[1:], kwargs)
        numel = tensors[0].numel()
        head = f"bilstm_hooks: {name} to {shape} got {called(tensors[0])} ({numel} elements)"
    lines = [head + ":"]
    for tensor in operands[:_OPERANDS_SHOWN]:
        lines.append(f"  {called(tensor)}: {operand_line(tensor, annotations[id(tensor)])}")
    return "\n".join(lines)


def operand_line(tensor: torch.Tensor, annotated: AnnotatedTensor | None) -> str:
    """`batch=4 (direction=2 hidden=64), shape (4, 128) · encoder.h_n: layer 1 · float32 cpu`,
    or `shape (64, 10), no names`."""
    if annotated is None:
        return f"shape {tuple(tensor.shape)}, no names"
    text: str = provider("describe")(annotated)
    axes, _, rest = text.partition(" · ")
    return f"{axes}, shape {tuple(tensor.shape)} · {rest}"


def _width(annotated: AnnotatedTensor | None) -> str:
    """` = direction=2 × hidden=64`: what the last axis holds, where it fuses names."""
    if annotated is None:
        return ""
    size = annotated.axes.size_of
    last = [name for name in annotated.axes.groups[-1] if size[name] > 1]  # not direction=1
    return f" = {' × '.join(f'{n}={size[n]}' for n in last)}" if len(last) > 1 else ""


def user_names(frame: FrameType | None, tensors: list[torch.Tensor]) -> dict[int, str]:
    """The user's names of `tensors`: locals of the user's frame, then `self.<name>` of
    the module whose forward it is, then a view's description for the rest."""
    names = local_names(frame, tensors)
    owner = frame.f_locals.get("self") if frame is not None else None
    if isinstance(owner, nn.Module):
        for attribute, value in (*vars(owner).items(), *owner._parameters.items()):
            if isinstance(value, torch.Tensor) and id(value) not in names:
                names.setdefault(id(value), f"self.{attribute}")
    for tensor in tensors:
        if (
            id(tensor) not in names
            and isinstance(tensor, torch.Tensor)
            and tensor._base is not None
        ):
            base = local_names(frame, [tensor._base]).get(id(tensor._base))
            if base is not None:
                names[id(tensor)] = f"{base}{_view_text(tensor)}"
    return names


def _view_text(tensor: torch.Tensor) -> str:
    """`[-1]`, `[:, -1]`: where a view of one fewer dim was taken, when it says so
    plainly; `(view)` otherwise."""
    annotated = annotation_of(tensor)
    base = tensor._base
    if annotated is not None and base is not None and len(annotated.at) == 1:
        ((dim_name, position),) = annotated.at.items()
        base_annotation = annotation_of(base)
        if base_annotation is not None:
            for axis, group in enumerate(base_annotation.axes.groups):
                if group == (dim_name,):
                    size = base.shape[axis]
                    index = position - size if position == size - 1 else position
                    return f"[{', '.join([':'] * axis + [str(index)])}]"
    return " (a view)"


def _op_name(func: Any) -> str:
    name = str(torch.overrides.resolve_name(func) or getattr(func, "__name__", "the op"))
    for prefix in ("torch.nn.functional.", "torch.Tensor.", "torch."):
        name = name.removeprefix(prefix)
    return name


def _linear_name(weight: torch.Tensor, frame: FrameType | None) -> str:
    """`fc (Linear(64, 10))`: the user's name of the Linear whose weight this is (its
    name in a module the user's frame holds), or `the Linear (64 to 10)`."""
    for holder in frame.f_locals.values() if frame is not None else ():
        if isinstance(holder, nn.Module):
            for name, module in holder.named_modules():
                if isinstance(module, nn.Linear) and module.weight is weight and name:
                    return f"{name} (Linear({module.in_features}, {module.out_features}))"
    return f"the Linear ({weight.shape[-1]} to {weight.shape[0]})"


def _asked_shape(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    shape = args[0] if len(args) == 1 else args or kwargs.get("shape", ())
    if isinstance(shape, torch.Size | list | tuple):
        sizes = tuple(int(s) for s in shape)
        known = [s for s in sizes if s != -1]
        return f"{sizes} ({math.prod(known)} elements{' and a -1' if -1 in sizes else ''})"
    return repr(shape)
