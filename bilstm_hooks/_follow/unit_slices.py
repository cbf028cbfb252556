"""A slice of size 1 keeps its axis and its name: `h[-1:, 0]` is `layer batch hidden`.

From its strides alone such a view reads as `h[-1, 0].unsqueeze(0)` (an axis `()`): the
two share their geometry. The follow mode sees the index, so it names the axis a slice
kept, sliced at that one position, and tags the view with it; an integer index drops the
axis, `None` adds a `()` one, as before.

Examples:
    >>> unit_slices((slice(-1, None), 0), 3, (1, 5, 4))
    {0: 0}
"""

from __future__ import annotations

from typing import Any

import torch

from .._core.annotated import AnnotatedTensor, named_from
from .._core.compose import derived, view_names
from .._names.geometry import geometry_of
from .._names.layout import Axes
from .rule_parts import tag

__all__ = ["name_unit_slices", "unit_slices"]


def unit_slices(index: Any, dims: int, shape: tuple[int, ...]) -> dict[int, int]:
    """`{axis of the view: axis of the source}` for each slice of a basic `index` (into a
    tensor of `dims` axes) that kept one position; `{}` for any other index."""
    items = index if isinstance(index, tuple) else (index,)
    if not all(i is None or i is Ellipsis or isinstance(i, int | slice) for i in items):
        return {}
    if any(isinstance(i, bool) for i in items) or sum(i is Ellipsis for i in items) > 1:
        return {}
    used = sum(isinstance(i, int | slice) for i in items)
    expanded: list[Any] = []
    for item in items:
        expanded += [slice(None)] * (dims - used) if item is Ellipsis else [item]
    expanded += [slice(None)] * (dims - sum(i is not None for i in expanded))
    found, source, view = {}, 0, 0
    for item in expanded:
        if item is None:
            view += 1
            continue
        if isinstance(item, slice):
            if view < len(shape) and shape[view] == 1:
                found[view] = source
            view += 1
        source += 1
    return found


def name_unit_slices(source: AnnotatedTensor, index: Any, result: torch.Tensor) -> None:
    """Tag `result` (`source[index]`, a view) with the names of the axes its slices of
    size 1 kept, where its strides named them `()`; nothing to do for any other."""
    units = unit_slices(index, source.tensor.dim(), tuple(result.shape))
    if not units:
        return
    found = derived(source.axes, geometry_of(source.tensor), geometry_of(result))
    if found is None:
        return
    groups, sizes = list(found.axes.groups), dict(found.axes.size_of)
    at, sliced = dict(found.at), dict(found.sliced)
    changed = False
    for axis, kept in units.items():
        group = source.axes.groups[kept]
        if groups[axis] or len(group) != 1 or group[0] not in at:
            continue  # named already, or a fused axis: its one position is no single name
        (name,) = group
        position = at.pop(name)
        groups[axis], sizes[name], sliced[name] = group, 1, (position, position + 1, 1)
        changed = True
    if changed:
        axes = Axes.of(tuple(groups), sizes)
        tag(result, view_names(named_from(source), axes, at, sliced))
