"""The value line of a tuple or list of annotated tensors: `(h_n, c_n)`, `(out, (h_n, c_n))`,
a list of each layer's `(h, c)`.

Debuggers ask for the value of every tuple and list they show, ours or not, so the
look is bounded and cheap: at most `MAX_ITEMS` items (tensors, containers, anything)
in all, nested at most `MAX_DEPTH` deep, each tensor by a registry lookup without the
storage scan (`annotation_of(t, shared=False)`), before any text is made. None when
none of them is annotated: the debugger keeps its own presentation. Metadata only.

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    >>> out, hidden = lstm(torch.randn(1, 6, 3))
    >>> print(sequence_text(hidden))
    ((layer=2 direction=1) batch=1 hidden=4 · encoder.h_n, (layer=2 direction=1) batch=1 hidden=4 · encoder.c_n) · float32 cpu
    >>> sequence_text((torch.zeros(2), 3)) is None
    True
"""  # noqa: E501

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence

from .._base.dtypes import dtype_and_device
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .tensor_text import packed_annotation, positions_text, shape_text

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "PLAIN_TENSORS", "sequence_text"]

MAX_ITEMS = 8
"""Items looked at in all, nested ones included."""
MAX_DEPTH = 3
"""Nesting looked into: `[(h, c), ...]` is 2 deep."""

PLAIN_TENSORS = frozenset({torch.Tensor, torch.nn.Parameter})
"""The tensor types a debugger's look touches; any other subclass is told by its type only,
as reading it (`.shape`, `._base`) would run its own `__torch_function__`."""

_SEQUENCES = (tuple, list)
_SCALARS = (bool, int, float, type(None))
_BRACKETS: dict[type, tuple[str, str]] = {tuple: ("(", ")"), list: ("[", "]")}


def _has_names(items: tuple[object, ...] | list[object], depth: int, budget: list[int]) -> bool:
    """Whether an item within the budget is annotated; spends the budget as it looks."""
    for item in items:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        if type(item) in PLAIN_TENSORS:
            if annotation_of(item, shared=False) is not None:
                return True
        elif isinstance(item, AnnotatedTensor):
            return True
        elif type(item) in _SEQUENCES:
            if depth < MAX_DEPTH and _has_names(item, depth + 1, budget):  # type: ignore[arg-type]
                return True
        elif isinstance(item, PackedSequence) and packed_annotation(item) is not None:
            return True
    return False


def sequence_text(obj: object) -> str | None:
    """`(…h_n, …c_n) · float32 cpu` for a tuple or list holding annotated tensors, else None."""
    if type(obj) not in _SEQUENCES or not _has_names(obj, 1, [MAX_ITEMS]):  # type: ignore[arg-type]
        return None
    dtypes: dict[str, None] = {}
    text = _text(obj, 1, [MAX_ITEMS], dtypes)  # type: ignore[arg-type]
    return f"{text} · {', '.join(dtypes)}" if dtypes else text


def _annotated(annotated: AnnotatedTensor, tensor: torch.Tensor, dtypes: dict[str, None]) -> str:
    dtypes[dtype_and_device(tensor)] = None
    where = f" · {annotated.origin}" if annotated.origin else ""
    if annotated.at:
        where += f"{':' if where else ' ·'} {positions_text(annotated.at)}"
    return f"{annotated.axes.described()}{where}"


def _item(item: object, depth: int, budget: list[int], dtypes: dict[str, None]) -> str:
    if type(item) in PLAIN_TENSORS:
        assert isinstance(item, torch.Tensor)
        found = annotation_of(item, shared=False)
        if found is not None:
            return _annotated(found, item, dtypes)
        dtypes[dtype_and_device(item)] = None
        return shape_text(item)
    if isinstance(item, AnnotatedTensor):
        return _annotated(item, item.tensor, dtypes)
    if type(item) in _SEQUENCES:
        if depth < MAX_DEPTH:
            return _text(item, depth + 1, budget, dtypes)  # type: ignore[arg-type]
        opening, closing = _BRACKETS[type(item)]
        return f"{opening}…{closing}"
    if isinstance(item, PackedSequence):
        dtypes[dtype_and_device(item.data)] = None
        packed = packed_annotation(item)
        if packed is None:
            return f"PackedSequence shape={tuple(item.data.shape)}"
        return f"{packed[0].described()} · {packed[1]}, packed"
    if isinstance(item, _SCALARS):
        return repr(item)
    if isinstance(item, str):
        return repr(item) if len(item) <= 24 else repr(item[:20]) + "…"
    return f"<{type(item).__name__}>"  # a repr could be long, or read data


def _text(
    items: tuple[object, ...] | list[object], depth: int, budget: list[int], dtypes: dict[str, None]
) -> str:
    parts = []
    for item in items:
        if budget[0] <= 0:
            parts.append("…")
            break
        budget[0] -= 1
        parts.append(_item(item, depth, budget, dtypes))
    opening, closing = _BRACKETS[type(items)]
    if type(items) is tuple and len(items) == 1:
        closing = "," + closing
    return f"{opening}{', '.join(parts)}{closing}"
