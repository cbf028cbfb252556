"""A view's names, composed from the names of the tensor it views: metadata only.

`view_names` turns the positions a view takes or slices (from `_names.derive`) into
positions of the tensor `origin` names, with the caveats that still hold and the rows of
a reordered batch. Nothing here holds a tensor.

Examples:
    >>> from bilstm_hooks._names.layout import Axes
    >>> from bilstm_hooks._names.named import Named
    >>> out = Named(Axes.of([("batch",), ("token",)], {"batch": 3, "token": 6}), "out")
    >>> view = view_names(out, Axes.of([("batch",)], {"batch": 3}), {"token": 5}, {})
    >>> view.at, view.origin
    ((('token', 5),), 'out')
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from .._names.broadcast import is_broadcast
from .._names.derive import Derived, derive
from .._names.geometry import Geometry
from .._names.layout import Axes
from .._names.named import Named, Tag
from .._names.notes import (
    is_order_note,
    is_padding_note,
    notes_for,
    order_note,
    rows_of,
    slice_notes,
)

__all__ = ["derived", "named_of", "view_names"]


@functools.lru_cache(maxsize=1024)
def _role_named(tag: Tag) -> Named:
    return Named(tag.layout.axes(tag.role), tag.origin)


def named_of(value: Tag | Named) -> Named:
    """A registry value as explicit names (a hook's tag gives its role's axes)."""
    return _role_named(value) if isinstance(value, Tag) else value


@functools.lru_cache(maxsize=4096)
def derived(axes: Axes, base: Geometry, view: Geometry) -> Derived | None:
    """The names of the view of geometry `view` of a tensor of `axes` and geometry `base`;
    None where they cannot be derived (remembered: metadata only)."""
    found = derive(axes, base, view)
    return found if isinstance(found, Derived) else None


def view_names(
    named: Named,
    axes: Axes,
    at: Mapping[str, int],
    sliced: Mapping[str, tuple[int, int, int]],
) -> Named:
    """The names of a view of what `named` describes, with dims `axes`: `at` and `sliced`
    are positions in the viewed tensor, composed here into positions of the original."""
    dropped = named.sequences is not None and "batch" not in axes.size_of  # squeezed away
    if at or sliced or named.sliced or dropped:
        return _composed(named, axes, tuple(at.items()), tuple(sliced.items()))
    return named._replace(axes=axes)  # the tensor itself, or a transpose


@functools.lru_cache(maxsize=4096)
def _composed(
    named: Named,
    axes: Axes,
    at_items: tuple[tuple[str, int], ...],
    sliced_items: tuple[tuple[str, tuple[int, int, int]], ...],
) -> Named:
    """Metadata only, so remembered: the positions, notes and lengths of one view.

    Batch rows reordered (`named.sequences`) map a position along batch to the row it
    holds, never to its place: a row not known loses its `batch` position."""
    at, sliced = dict(at_items), dict(sliced_items)
    parent = {name: (start, stop, step) for name, start, stop, step in named.sliced}
    full = {**named.axes.size_of, **dict(named.full)}
    held = named.sequences

    def absolute(name: str, position: int) -> int:
        start, _, step = parent.get(name, (0, 0, 1))
        return start + position * step

    size = axes.size_of
    if held is not None and len(held) == 1 and "batch" not in size and "batch" not in at:
        at["batch"] = 0  # the one row of a reordered batch, squeezed away: as if taken
    slices = {name: where for name, where in parent.items() if name in size}
    sequences = held if "batch" in size else None
    for name, (start, _, step) in sliced.items():
        if name == "batch" and held is not None:  # rows of a reordered batch: still reordered
            sequences = tuple(held[start + i * step] for i in range(size[name]))
            continue
        first, by = absolute(name, start), step * parent.get(name, (0, 0, 1))[2]
        count = size[name]
        slices[name] = (first, first + (count - 1) * by + (1 if by > 0 else -1), by)
        if not count:
            slices[name] = (first, first, by)
    new = {  # a position along a broadcast axis says nothing: each holds the same data
        name: absolute(name, position) for name, position in at.items() if not is_broadcast(name)
    }
    for name, (start, stop, step) in parent.items():  # a slice of one position, gone: taken
        if name not in size and name not in at and len(range(start, stop, step)) == 1:
            new[name] = start  # (indexed or squeezed away: the same strides, the same data)
    slices = {name: where for name, where in slices.items() if not is_broadcast(name)}
    if held is not None and "batch" in at:
        row = held[at["batch"]]
        del new["batch"]
        if row is not None:
            new["batch"] = row
    positions = {**dict(named.at), **new}
    lengths, rows = rows_of(named.lengths, at, sliced)
    taken: tuple[int, ...] | dict[int | None, int] | None = lengths
    if rows is not None:  # one row taken: named by the row of the original it holds
        taken = {positions.get("batch"): length for length in rows.values()}
    stale = {*slice_notes(parent)}
    if "direction" in at or "direction" in sliced:
        stale.add("both directions")
    rows_changed = "batch" in at or "batch" in sliced
    notes = tuple(
        note
        for note in named.notes
        if note not in stale
        and not is_order_note(note)
        and not (rows_changed and is_padding_note(note))
    )
    # rows taken or sliced after a token was: their padding, said again for these rows
    again = {"token": positions["token"]} if rows_changed and "token" in dict(named.at) else {}
    notes += notes_for(positions, full, taken, {**again, **new}, {})
    notes += slice_notes(slices)
    if sequences is not None:
        notes += (order_note(sequences),)
    kept = {name: full[name] for name in (*slices, *positions) if name in full}
    return Named(
        axes,
        named.origin,
        tuple(positions.items()),
        tuple(dict.fromkeys(notes)),
        lengths,
        tuple((name, *where) for name, where in slices.items()),
        tuple(kept.items()),
        sequences,
    )
