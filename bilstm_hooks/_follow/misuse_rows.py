"""Layout bugs about the rows of `h_n` and the batch axis of a time-major `out`.

`h_n`'s rows are layer-major, `(layer direction)`: row `layer * 2 + direction`.
Checked here, while following, each at the user's line (`bh.LayoutWarning`):

- `h_n.view(2, L, B, H)` (or `rearrange(h_n, "(d l) b h -> d l b h")`) reads the rows
  direction-major; the right form is `h_n.view(L, 2, B, H)`. At 2 layers both orders
  have the same shape and cannot be told apart; with one factor of size 1 they are
  the same rows.
- `out[:, -1]` of a time-major layer (`batch_first=False`): the last sequence, not
  the last token.
- `torch.cat([h_n[0], h_n[-1]], -1)` (or `h_n[0] + h_n[-1]`) on a 2-layer
  bidirectional layer: rows of different layers and different directions joined.

And a name: `torch.cat(torch.unbind(h_n), dim=-1)` is every row of `h_n` side by
side, `batch (layer direction hidden)`, the layer kept even at 1 layer.

>>> import torch, bilstm_hooks as bh
>>> lstm = torch.nn.LSTM(3, 4, bidirectional=True)
>>> rec = bh.attach_hooks(lstm)
>>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
>>> with bh.follow():
...     rows = torch.cat(torch.unbind(h_n), dim=-1)
>>> bh.annotation_of(rows).pattern
'batch (layer direction hidden)'
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .._core.annotated import AnnotatedTensor, named_from
from .._names.layout import Axes
from .._names.named import Named
from .misuse import _who, warn
from .rule_parts import full_sizes, joined_axis, storages

__all__ = [
    "check_layer_major",
    "check_mixed_rows",
    "check_time_major_last",
    "unbound",
    "unbound_joined",
]

_ROWS = ("layer", "direction")


# -- unbind, then cat or stack ------------------------------------------------------------------
# id(part) -> (a weak reference to it, the call it came from, its position, how many, the
# group unbound with the size of each of its names)
_Entry = tuple[weakref.ref[torch.Tensor], object, int, int, tuple[tuple[str, int], ...]]
_UNBOUND: dict[int, _Entry] = {}
_LOCK = threading.Lock()


def _forget(key: int) -> Callable[[Any], None]:
    def forget(_: Any) -> None:
        with _LOCK:
            _UNBOUND.pop(key, None)

    return forget


def unbound(source: AnnotatedTensor, dim: Any, parts: Sequence[torch.Tensor]) -> None:
    """Remember the parts of `torch.unbind(source, dim)`, for `unbound_joined`."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        return
    groups = source.axes.groups
    if not -len(groups) <= dim < len(groups):
        return
    names = groups[dim % len(groups)]
    if any(n in source.sliced for n in names):
        return  # its positions are not 0..n-1 of the tensor its origin names
    group = tuple((n, source.sizes[n]) for n in names)
    call = object()
    for k, part in enumerate(parts):
        key = id(part)
        ref = weakref.ref(part, _forget(key))
        with _LOCK:
            _UNBOUND[key] = (ref, call, k, len(parts), group)


def unbound_joined(
    parts: Sequence[Any], named: Sequence[AnnotatedTensor], dim: int, *, stack: bool
) -> Named | None:
    """The names of `cat(unbind(x, a), d)` (the group of axis `a` fused into axis `d`) or
    of `stack(unbind(x, a), d)` (the group of `a` at `d`): all the parts of one call, in
    order. None for anything else."""
    found = []
    for part in parts:
        entry = _UNBOUND.get(id(part))
        if entry is None or entry[0]() is not part:
            return None
        found.append(entry)
    calls = {entry[1] for entry in found}
    _, _, _, count, sized = found[0]
    if len(calls) != 1 or [e[2] for e in found] != list(range(count)):
        return None
    first, group, sizes = named[0], tuple(n for n, _ in sized), dict(sized)
    if any(n in first.sliced or n in first.sizes for n in group):
        return None
    groups = list(first.axes.groups)
    axis = joined_axis(len(groups), dim, stack=stack)
    if axis is None:
        return None
    if stack:
        groups.insert(axis, group)
    else:
        groups[axis] = (*group, *groups[axis])
    axes = Axes.of(groups, {**first.sizes, **{k: sizes[k] for k in group}})
    at = tuple((k, v) for k, v in first.at.items() if k not in group)
    notes = tuple(note for note in first.notes if not any(k in note for k in group))
    full = tuple((k, v) for k, v in named_from(first).full if k not in group)
    return named_from(first, axes, at=at, notes=notes, full=full)


# -- cat, add of rows of h_n --------------------------------------------------------------------
def check_mixed_rows(parts: Sequence[AnnotatedTensor], op: str) -> None:
    """Two rows of `h_n` of different layers and different directions joined (`op`): the
    classic pair. Three rows or more are a selection of the user's own: not warned."""
    first = parts[0]
    if len(parts) != 2 or not first.origin or any(p.origin != first.origin for p in parts):
        return
    if storages(parts) != 1:
        return
    if any(not {"layer", "direction"} <= set(p.at) for p in parts):
        return
    layers = {p.at["layer"] for p in parts}
    directions = {p.at["direction"] for p in parts}
    if len(layers) < 2 or len(directions) < 2:
        return
    sizes = full_sizes(first)
    shown = ", ".join(f"layer {p.at['layer']} direction {p.at['direction']}" for p in parts)
    last = sizes.get("layer", 1) - 1
    warn(
        f"rows of {first.origin} of different layers and different directions {op}: {shown}. "
        f"The last layer's two directions are rows -2 and -1 (layer {last}): "
        "torch.cat([h_n[-2], h_n[-1]], -1); h_n's rows are layer-major "
        "(row = layer * 2 + direction)"
    )


# -- view, reshape, unflatten, rearrange of h_n -------------------------------------------------
def check_layer_major(source: AnnotatedTensor, shape: tuple[int, ...]) -> bool:
    """`h_n.view(2, L, ...)`: the rows read direction-major. True when it warned."""
    groups = source.axes.groups
    if not groups or groups[0] != _ROWS or len(shape) < 2:
        return False
    layers, directions = source.sizes["layer"], source.sizes["direction"]
    if 1 in (layers, directions) or layers == directions:
        return False  # the same rows in either order, or shapes that cannot tell them apart
    if tuple(shape[:2]) != (directions, layers) or tuple(shape[2:]) != tuple(source.shape[1:]):
        return False
    rest = ", ".join(map(str, source.shape[1:]))
    warn(
        f"{_who(source)} viewed as {shape} reads its rows direction-major, but they are "
        f"layer-major (row = layer * {directions} + direction): view it as "
        f"h_n.view({layers}, {directions}, {rest}), or rearrange "
        '"(l d) b h -> l d b h"'
    )
    return True


# -- out[:, -1] of a time-major layer -------------------------------------------------------------
def check_time_major_last(source: AnnotatedTensor, index: Any) -> None:
    """`out[:, -1]` where `out` is `token batch ...`: the last sequence, not the last token."""
    groups = source.axes.groups
    if len(groups) < 2 or groups[0] != ("token",) or groups[1] != ("batch",):
        return
    if source.sizes["batch"] < 2 or not isinstance(index, tuple) or len(index) < 2:
        return
    lead, row = index[0], index[1]
    if not (isinstance(lead, slice) and lead == slice(None)) or type(row) is not int or row != -1:
        return
    warn(
        f"{_who(source)}[:, -1] takes the last sequence of the batch, not the last token: "
        "the layer is time-major (batch_first=False), axis 0 is token and axis 1 is batch. "
        "For the final states use h_n (torch.cat([h_n[-2], h_n[-1]], -1)), "
        "bh.last_outputs(out, lengths, module=...), or out[lengths - 1, torch.arange(batch)]"
    )
