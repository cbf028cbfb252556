"""Named dims of a view, derived from an annotated tensor on the same storage.

Metadata only: a view's shape, strides and storage offset are compared with those
of the annotated tensor, whose axes are unpacked into elementary dims (each with
its own stride: `(direction hidden)` of stride 1 is `direction` of stride
`hidden` and `hidden` of stride 1). The view's offset gives the position of every
dim; each of its axes is one dim (whole, or a slice with a step), several adjacent
dims fused, a new axis of size 1, or a broadcast (stride 0). A dim no axis covers
was indexed away: its position goes into `at`. An axis that is none of these (a
`view` that mixes `batch` into `(layer direction)`, say) cannot be named: the
derivation fails and says why. It never guesses.

`logical()` gives the geometry a `view`/`reshape` would have on a contiguous copy,
so that the same derivation names a reshape whatever the strides of its input.

Example:
    >>> import torch
    >>> from bilstm_hooks._layout import Axes
    >>> h_n_axes = Axes((("layer", "direction"), ("batch",), ("hidden",)),
    ...                 (("layer", 2), ("direction", 2), ("batch", 3), ("hidden", 4)))
    >>> h_n = torch.zeros(4, 3, 4)
    >>> found = derive(h_n_axes, geometry_of(h_n), h_n[-1])
    >>> found.axes.pattern, found.at
    ('batch hidden', {'layer': 1, 'direction': 1})
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ._layout import Axes

__all__ = ["Derived", "Geometry", "Underivable", "derive", "geometry_of", "logical"]

Geometry = tuple[tuple[int, ...], tuple[int, ...], int]
"""`(shape, strides, storage_offset)` of a tensor, in elements."""


def geometry_of(tensor: torch.Tensor) -> Geometry:
    """The shape, strides and storage offset of `tensor`: metadata, no data read."""
    return tuple(tensor.shape), tuple(tensor.stride()), int(tensor.storage_offset())


def logical(shape: tuple[int, ...]) -> Geometry:
    """The geometry of a contiguous tensor of `shape` (for reshape, view, flatten)."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(shape), tuple(reversed(strides)), 0


@dataclass(frozen=True)
class Derived:
    """The view's axes, the positions of the dims indexed away, and the slices kept."""

    axes: Axes
    at: dict[str, int] = field(default_factory=dict)
    sliced: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # start, stop, step


@dataclass(frozen=True)
class Underivable:
    """Why the view's axes cannot be named: `mixes` lists the dims one axis mixes."""

    reason: str
    mixes: tuple[str, ...] = ()


@dataclass
class _Dim:
    name: str
    size: int
    stride: int
    position: int = 0
    used: bool = False


def _dims(axes: Axes, strides: tuple[int, ...]) -> list[_Dim]:
    """Elementary dims, outer to inner within each group, with their strides."""
    size = axes.size_of
    dims = []
    for group, stride in zip(axes.groups, strides, strict=True):
        inner = stride
        for name in reversed(group):
            dims.append(_Dim(name, size[name], inner))
            inner *= size[name]
    order = {name: i for i, name in enumerate(axes.dims)}
    return sorted(dims, key=lambda d: order[d.name])


def _place(dims: list[_Dim], delta: int) -> bool:
    """Positions of every dim from the offset of the view; False if it is off the grid."""
    for dim in sorted((d for d in dims if d.size > 1), key=lambda d: -d.stride):
        dim.position = min(delta // dim.stride, dim.size - 1) if delta > 0 else 0
        delta -= dim.position * dim.stride
    return delta == 0


def _fused(dims: list[_Dim], size: int, stride: int) -> list[_Dim] | None:
    """Adjacent unused dims at position 0, outer to inner, that tile an axis exactly."""
    by_stride = {d.stride: d for d in dims if not d.used and d.size > 1 and d.position == 0}
    chain: list[_Dim] = []
    inner, total = stride, 1
    while total < size:
        dim = by_stride.get(inner)
        if dim is None:
            return None
        chain.insert(0, dim)
        total *= dim.size
        inner *= dim.size
    return chain if total == size and len(chain) > 1 else None


def _mixed(dims: list[_Dim], size: int, stride: int) -> tuple[str, ...]:
    """The dims whose elements one unnameable axis runs over (for messages)."""
    span = stride * (size - 1)
    return tuple(d.name for d in dims if d.size > 1 and d.stride <= span and not d.used)


def _with_unit_mates(
    axes: Axes, chain: list[_Dim], dims: list[_Dim], sizes: dict[str, int]
) -> tuple[str, ...]:
    """The axis's names; the whole base group when the chain is all its dims of size > 1,
    so that `(direction hidden)` of a unidirectional layer stays fused with direction=1."""
    names = [d.name for d in chain]
    group = next((g for g in axes.groups if names[0] in g), ())
    trivial = {d.name: d for d in dims if d.size == 1 and not d.used}
    if [n for n in group if n not in trivial] != names:
        return tuple(names)
    for name in group:
        if name in trivial:
            trivial[name].used = True
            sizes[name] = 1
    return group


def derive(axes: Axes, base: Geometry, view: torch.Tensor | Geometry) -> Derived | Underivable:
    """Name the axes of `view`, a view of the tensor `axes` describes (geometry `base`)."""
    shape, strides, offset = view if isinstance(view, tuple) else geometry_of(view)
    if (shape, strides, offset) == base and base[0] == axes.shape:
        return Derived(axes)  # the annotated tensor itself, or an alias of it
    if base[0] != axes.shape:
        return Underivable(f"the annotated tensor is {base[0]}, not {axes.shape}")
    dims = _dims(axes, base[1])
    if not _place(dims, offset - base[2]):
        return Underivable("its storage offset falls between the annotated elements")
    groups: list[tuple[str, ...]] = []
    sizes: dict[str, int] = {}
    sliced: dict[str, tuple[int, int, int]] = {}
    spare = [d for d in dims if d.size == 1]  # may stand for a size-1 axis of the view
    for size, stride in zip(shape, strides, strict=True):
        if size == 1:
            if spare:
                dim = spare.pop(0)
                dim.used = True
                groups.append((dim.name,))
                sizes[dim.name] = 1
            else:
                groups.append(())
            continue
        if stride == 0:
            return Underivable("it is broadcast (expanded) along an axis")
        match = next(
            (
                d
                for d in dims
                if not d.used
                and d.size > 1
                and stride % d.stride == 0
                and d.position + (size - 1) * (stride // d.stride) < d.size
            ),
            None,
        )
        if match is not None:
            match.used = True
            step = stride // match.stride
            sizes[match.name] = size
            if (match.position, step, size) != (0, 1, match.size):
                stop = match.position + (size - 1) * step + 1
                sliced[match.name] = (match.position, stop, step)
                groups.append((match.name,))
            else:
                groups.append(_with_unit_mates(axes, [match], dims, sizes))
            continue
        chain = _fused(dims, size, stride)
        if chain is None:
            mixes = _mixed(dims, size, stride)
            return Underivable(f"an axis of size {size} mixes {' and '.join(mixes)}", mixes)
        for dim in chain:
            dim.used = True
            sizes[dim.name] = dim.size
        groups.append(_with_unit_mates(axes, chain, dims, sizes))
    at = {d.name: d.position for d in dims if not d.used and d.size > 1}
    named = tuple((name, sizes[name]) for group in groups for name in group)
    return Derived(Axes(tuple(groups), named), at, sliced)
