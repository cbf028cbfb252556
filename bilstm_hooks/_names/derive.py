"""Named dims of a view, derived from an annotated tensor on the same storage.

Metadata only: a view's shape, strides and storage offset are compared with those
of the annotated tensor, whose axes are unpacked into elementary dims (each with
its own stride: `(direction hidden)` of stride 1 is `direction` of stride
`hidden` and `hidden` of stride 1). The view's offset gives the position of every
dim; each of its axes is one dim (whole, or a slice with a step), several adjacent
dims fused, a new axis of size 1, or a broadcast (stride 0: `expand`), which gets a
name of its own (`broadcast`, see `broadcast.py`). A dim no axis covers was indexed
away: its position goes into `at`. An axis that is none of these (a
`view` that mixes `batch` into `(layer direction)`, say) cannot be named: the
derivation fails and says why. It never guesses.

`logical()` gives the geometry a `view`/`reshape` would have on a contiguous copy,
so that the same derivation names a reshape whatever the strides of its input.

Examples:
    >>> import torch
    >>> from bilstm_hooks._names.layout import Axes
    >>> h_n_axes = Axes.of([("layer", "direction"), ("batch",), ("hidden",)],
    ...                    {"layer": 2, "direction": 2, "batch": 3, "hidden": 4})
    >>> h_n = torch.zeros(4, 3, 4)
    >>> found = derive(h_n_axes, geometry_of(h_n), h_n[-1])
    >>> found.axes.pattern, found.at
    ('batch hidden', {'layer': 1, 'direction': 1})
    >>> derive(h_n_axes, geometry_of(h_n), h_n[-1][:, None].expand(3, 6, 4)).axes.pattern
    'batch broadcast hidden'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .broadcast import fresh_names
from .geometry import Geometry, geometry_of
from .layout import Axes

__all__ = ["Derived", "Underivable", "derive"]


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


def _chain(dims: list[_Dim], size: int, stride: int) -> list[tuple[_Dim, int, int]] | None:
    """The dims one axis runs over, outer to inner, each as `(dim, step, count)`.

    Each step of the axis moves `stride` elements: the innermost dim advances by
    `stride // its stride`; where it runs out, the next dim advances by the jump
    made so far, and so on. Only the outermost may stop before its end
    (`h_n[2:]` of three layers: `(layer direction)`, layer 1:3). None: no dims do.
    """
    chain: list[tuple[_Dim, int, int]] = []
    total, jump = 1, stride
    while True:
        dim = next(
            (
                d
                for d in dims
                if not d.used
                and d.size > 1
                and all(d is not c[0] for c in chain)
                and jump % d.stride == 0
                and d.position + jump // d.stride < d.size
            ),
            None,
        )
        if dim is None or size % total:
            return None
        step = jump // dim.stride
        room = (dim.size - 1 - dim.position) // step + 1
        need = size // total
        if room >= need:
            return [(dim, step, need), *chain]
        if need % room:
            return None
        chain.insert(0, (dim, step, room))
        total *= room
        jump = total * stride


def _empty(dims: list[_Dim], stride: int) -> list[tuple[_Dim, int, int]] | None:
    """An axis of no element (`out[:, 2:2]`): the dim of its stride, taken 0 times."""
    free = sorted((d for d in dims if not d.used), key=lambda d: (d.stride != stride, d.size < 2))
    return [(free[0], 1, 0)] if free else None


def _mixed(dims: list[_Dim], size: int, stride: int) -> tuple[str, ...]:
    """The dims whose elements one unnameable axis runs over, those another axis took
    in part included (`h_n.view(batch, layers)` of one hidden unit splits batch)."""
    span = stride * (size - 1)
    return tuple(d.name for d in dims if d.size > 1 and d.stride <= span)


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


def _units(axes: Axes, dims: list[_Dim]) -> list[list[_Dim]]:
    """The unused dims of size 1, one unit per run within a base group: `(layer
    direction)` of a one-layer unidirectional h_n is one unit, shown as one axis."""
    by_name = {d.name: d for d in dims}
    units = []
    for group in axes.groups:
        run: list[_Dim] = []
        for name in group:
            dim = by_name[name]
            if dim.size == 1 and not dim.used:
                run.append(dim)
            elif run:
                units.append(run)
                run = []
        if run:
            units.append(run)
    return units


def _place_units(
    axes: Axes,
    dims: list[_Dim],
    groups: list[tuple[str, ...] | None],
    sizes: dict[str, int],
    strides: tuple[int, ...],
) -> None:
    """Name the view's axes of size 1 (None in `groups`) with the base's dims of size 1.

    Each unit goes where it stood in the base: just before the axis of the next dim
    in base order that the view keeps (`out[None]` of a batch of one is `() batch
    token ...`, `out[..., None]` is `batch token ... ()`); the rest where the stride is
    the dim's own (a transpose keeps it); an axis left over is new (`()`:
    `x.squeeze(2).unsqueeze(1)` does not bring dim 2 back at 1).
    """
    order = {name: i for i, name in enumerate(axes.dims)}
    axis_of = {name: i for i, g in enumerate(groups) if g for name in g}

    def next_axis_of_unit(unit: list[_Dim]) -> int | None:
        after = [n for n in axis_of if order[n] > order[unit[-1].name]]
        return axis_of[min(after, key=order.__getitem__)] if after else None

    def next_axis_of_slot(i: int) -> int | None:
        return next((j for j in range(i + 1, len(groups)) if groups[j]), None)

    # a slot with the stride of a longer dim indexed away holds that dim's one position
    # (`h_n[0][:1]`: batch's stride), not a unit that stood elsewhere: it stays `()`
    taken = {d.stride for d in dims if not d.used and d.size > 1}
    slots = [i for i, g in enumerate(groups) if g is None]
    units = _units(axes, dims)
    left: list[list[_Dim]] = []
    for key in dict.fromkeys(map(next_axis_of_unit, units)):
        mine = [u for u in units if next_axis_of_unit(u) == key]
        free = [
            i
            for i in slots
            if next_axis_of_slot(i) == key
            and groups[i] is None
            and (strides[i] not in taken or any(strides[i] == d.stride for u in mine for d in u))
        ]
        for unit, i in zip(reversed(mine), reversed(free), strict=False):
            groups[i] = tuple(d.name for d in unit)
        left += mine[: max(0, len(mine) - len(free))]
    for unit in left:
        own = {d.stride for d in unit}
        slot = next((i for i in slots if groups[i] is None and strides[i] in own), None)
        if slot is not None:
            groups[slot] = tuple(d.name for d in unit)
    for i in slots:
        if groups[i] is None:
            groups[i] = ()
        for name in groups[i] or ():
            sizes[name] = 1


def derive(axes: Axes, base: Geometry, view: torch.Tensor | Geometry) -> Derived | Underivable:
    """Name the axes of `view`, a view of the tensor `axes` describes (geometry `base`)."""
    shape, strides, offset = view if isinstance(view, tuple) else geometry_of(view)
    if (shape, strides, offset) == base and base[0] == axes.shape:
        return Derived(axes)  # the annotated tensor itself, or an alias of it
    if base[0] != axes.shape:
        return Underivable(f"the annotated tensor is {base[0]}, not {axes.shape}")
    if any(not stride and size > 1 for size, stride in zip(base[0], base[1], strict=True)):
        return Underivable("the annotated tensor is itself expanded (a stride of 0)")
    along = tuple(i for i, stride in enumerate(strides) if not stride and shape[i] != 1)
    if along:
        return _expanded(axes, base, (shape, strides, offset), along)
    dims = _dims(axes, base[1])
    if 0 in shape:  # no element: its offset may point anywhere, even past the end
        pass
    elif not _place(dims, offset - base[2]):
        return Underivable("its storage offset falls between the annotated elements")
    groups: list[tuple[str, ...] | None] = []
    sizes: dict[str, int] = {}
    sliced: dict[str, tuple[int, int, int]] = {}
    for size, stride in zip(shape, strides, strict=True):
        if size == 1:
            groups.append(None)  # named once every longer axis is: `_place_units`
            continue
        chain = _chain(dims, size, stride) if size else _empty(dims, stride)
        if chain is None:
            mixes = _mixed(dims, size, stride)
            return Underivable(f"an axis of size {size} mixes {' and '.join(mixes)}", mixes)
        whole = True
        for dim, step, count in chain:
            dim.used = True
            sizes[dim.name] = count
            if (dim.position, step, count) != (0, 1, dim.size):
                whole = False
                stop = dim.position + (count - 1) * step + 1 if count else dim.position
                sliced[dim.name] = (dim.position, stop, step)
        names = [dim for dim, _, _ in chain]
        groups.append(
            _with_unit_mates(axes, names, dims, sizes) if whole else tuple(d.name for d in names)
        )
    _place_units(axes, dims, groups, sizes, strides)
    named_groups = tuple(g or () for g in groups)
    at = {d.name: d.position for d in dims if not d.used and d.size > 1}
    return Derived(Axes.of(named_groups, sizes), at, sliced)


def _expanded(
    axes: Axes, base: Geometry, view: Geometry, along: tuple[int, ...]
) -> Derived | Underivable:
    """A view broadcast along the axes `along`: the view without them, named, plus a new
    axis for each. Its positions are all one element of the view without it, which no
    dim of the annotated tensor names: it gets a name of its own (`broadcast`)."""
    shape, strides, offset = view
    rest = [i for i in range(len(shape)) if i not in along]
    found = derive(
        axes, base, (tuple(shape[i] for i in rest), tuple(strides[i] for i in rest), offset)
    )
    if isinstance(found, Underivable):
        return found
    groups = list(found.axes.groups)
    size = found.axes.size_of
    for i, name in zip(along, fresh_names(len(along), axes.dims), strict=True):
        groups.insert(i, (name,))
        size[name] = shape[i]
    return Derived(Axes.of(groups, size), found.at, found.sliced)
