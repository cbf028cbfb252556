"""The one place that answers "what is this tensor?".

A tensor is annotated when the registry holds its tag (the hook's `out`, `h_n`,
`c_n`; a record's tensors; a tensor followed through an op), or when it is a
view of such a tensor: its names are then derived from its shape, strides and
storage offset (`_derive`), when read, at no cost to the forward pass.
`annotation_of` gives an `AnnotatedTensor` or None; `describe`, the debugger, the
REPL, notebooks and the summary all ask it, and none reads the registry itself.

Example:
    >>> import torch, bilstm_hooks as bh
    >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    >>> rec = bh.attach_hooks(lstm)
    >>> out, (h_n, c_n) = lstm(torch.randn(2, 6, 3))
    >>> bh.annotation_of(out[:, -1]).pattern, bh.annotation_of(out[:, -1]).at
    ('batch (direction hidden)', {'token': 5})
    >>> bh.annotation_of(h_n[-1]).notes
    ('backward direction only',)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.arguments import expect_bool
from .._names.broadcast import is_broadcast
from .._names.derive import Derived, Geometry, derive, geometry_of
from .._names.layout import Axes
from .._names.notes import (
    is_order_note,
    is_padding_note,
    notes_for,
    order_note,
    rows_of,
    slice_notes,
)
from . import registry
from .annotated import AnnotatedTensor
from .registry import Named, Tag
from .storage_index import sharing

__all__ = [
    "annotate_view",
    "annotation_of",
    "full_sizes",
    "named_from",
    "named_of",
    "unwrapped",
    "view_of",
]


@functools.lru_cache(maxsize=1024)
def _role_named(tag: Tag) -> Named:
    return Named(tag.layout.axes(tag.role), tag.origin)


def named_of(value: Tag | Named) -> Named:
    """A registry value as explicit names (a hook's tag gives its role's axes)."""
    return _role_named(value) if isinstance(value, Tag) else value


@functools.lru_cache(maxsize=4096)
def _derived(axes: Axes, base: Geometry, view: Geometry) -> Derived | None:
    found = derive(axes, base, view)
    return found if isinstance(found, Derived) else None


def annotation_of(obj: object, *, shared: bool = True) -> AnnotatedTensor | None:
    """The annotation of a tensor (or PackedSequence) from a hooked module, or of a view of one.

    Looked up by identity in a weak registry (no tensor is kept alive by it); a
    view (`out[:, -1]`, `h_n[-1]`, `out.transpose(0, 1)`) is named from its strides
    against the tensor it views, with the dims it indexed away in `.at`. A
    PackedSequence is annotated in its padded form. Anything else: None.
    `shared=False` skips the last resort, a look through the tensors on the same
    storage (what finds `out.detach()`).

    Raises:
        TypeError: `shared` is not a bool.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> rec = bh.attach_hooks(lstm)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> bh.annotation_of(h_n).pattern
        '(layer direction) batch hidden'
        >>> bh.annotation_of(h_n[-2]).at
        {'layer': 1, 'direction': 0}
        >>> bh.annotation_of(torch.zeros(3)) is None
        True
    """
    expect_bool("shared", shared)
    if isinstance(obj, AnnotatedTensor):
        return obj
    if isinstance(obj, PackedSequence):
        return _packed(obj)
    if not isinstance(obj, torch.Tensor):
        return None
    found = registry.find(obj)
    if found is not None:
        value, geometry, direct = found
        if isinstance(value, Tag) and value.packed:
            return None  # the .data of a packed output: only the PackedSequence has names
        named = named_of(value)
        if direct and geometry is None:
            if not named.axes.matches(obj.shape):  # resized in place: stale
                return None
            return annotate_view(obj, named, named.axes, {}, {})
        if geometry is None:
            assert obj._base is not None  # found through its base
            geometry = geometry_of(obj._base)
        annotated = _derived_annotation(obj, named, geometry)
        if annotated is not None:
            return annotated
    for value, geometry in sharing(obj) if shared else ():  # detach(), .data
        if not (isinstance(value, Tag) and value.packed):
            annotated = _derived_annotation(obj, named_of(value), geometry)
            if annotated is not None:
                return annotated
    return None


def _derived_annotation(
    tensor: torch.Tensor, named: Named, geometry: Geometry
) -> AnnotatedTensor | None:
    derived = _derived(named.axes, geometry, geometry_of(tensor))
    if derived is None:
        return None
    return annotate_view(tensor, named, derived.axes, derived.at, derived.sliced)


def _packed(packed: PackedSequence) -> AnnotatedTensor | None:
    found = registry.lookup(packed.data)
    if found is None or not found.packed:
        return None
    padded, _ = pad_packed_sequence(packed, batch_first=found.layout.batch_first)
    axes = found.layout.axes(found.role)
    if not axes.matches(padded.shape):
        return None
    return AnnotatedTensor(padded, axes, found.origin)


def named_from(annotated: AnnotatedTensor, axes: Axes | None = None, **changes: Any) -> Named:
    """What the registry keeps of `annotated` (with `changes`): for its copies and views."""
    named = Named(
        annotated.axes if axes is None else axes,
        annotated.origin,
        tuple(annotated.at.items()),
        annotated.notes,
        annotated.lengths,
        tuple((name, *where) for name, where in annotated.sliced.items()),
        tuple(annotated._full.items()),
        annotated.sequences,
    )
    return named._replace(**changes) if changes else named


def full_sizes(annotated: AnnotatedTensor) -> dict[str, int]:
    """The size of each dim in the tensor `origin` names (a sliced dim's whole size)."""
    return {**annotated.sizes, **annotated._full}


class Composed(NamedTuple):
    """A view's metadata in the original's positions (see `_annotated`)."""

    at: tuple[tuple[str, int], ...]
    notes: tuple[str, ...]
    lengths: tuple[int, ...] | None
    sliced: tuple[tuple[str, tuple[int, int, int]], ...]
    full: tuple[tuple[str, int], ...]  # sizes in the original of the dims sliced or taken
    sequences: tuple[int | None, ...] | None  # see `Named.sequences`


def annotate_view(
    tensor: torch.Tensor,
    named: Named,
    axes: Axes,
    at: Mapping[str, int],
    sliced: Mapping[str, tuple[int, int, int]],
) -> AnnotatedTensor:
    """`tensor`, a view of what `named` describes: `at` and `sliced` are positions in that
    tensor, composed here with its own slices into positions of the original."""
    dropped = named.sequences is not None and "batch" not in axes.size_of  # squeezed away
    if at or sliced or named.sliced or dropped:  # else the tensor itself, or a transpose
        composed = _composed(named, axes, tuple(at.items()), tuple(sliced.items()))
    else:
        composed = Composed(named.at, named.notes, named.lengths, (), named.full, named.sequences)
    return AnnotatedTensor(
        tensor,
        axes,
        named.origin,
        at=dict(composed.at),
        notes=composed.notes,
        lengths=composed.lengths,
        sliced=dict(composed.sliced),
        full=dict(composed.full),
        sequences=composed.sequences,
    )


@functools.lru_cache(maxsize=4096)
def _composed(
    named: Named,
    axes: Axes,
    at_items: tuple[tuple[str, int], ...],
    sliced_items: tuple[tuple[str, tuple[int, int, int]], ...],
) -> Composed:
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
    slices = {name: where for name, where in slices.items() if not is_broadcast(name)}
    if held is not None and "batch" in at:
        row = held[at["batch"]]
        del new["batch"]
        if row is not None:
            new["batch"] = row
    elif held is not None and sequences is None and len(held) == 1 and held[0] is not None:
        new["batch"] = held[0]  # the one row, squeezed away: the row it holds
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
    return Composed(
        tuple(positions.items()),
        tuple(dict.fromkeys(notes)),
        lengths,
        tuple(slices.items()),
        tuple(kept.items()),
        sequences,
    )


def view_of(annotated: AnnotatedTensor, result: object) -> AnnotatedTensor | None:
    """`result`, a view of `annotated.tensor`, with derived names; None if not a view."""
    source = annotated.tensor
    root = source if source._base is None else source._base
    if not isinstance(result, torch.Tensor):
        return None
    if result._base is not root and not (  # views of inference tensors keep no _base
        result.is_inference()
        and result.untyped_storage().data_ptr() == source.untyped_storage().data_ptr()
    ):
        return None
    derived = _derived(annotated.axes, geometry_of(source), geometry_of(result))
    if derived is None:
        return None
    return annotate_view(result, named_from(annotated), derived.axes, derived.at, derived.sliced)


def unwrapped(value: Any) -> Any:
    """`value` with every AnnotatedTensor in it (lists, tuples, dicts) as its plain tensor."""
    if isinstance(value, AnnotatedTensor):
        return value.tensor
    if isinstance(value, list | tuple):
        items = [unwrapped(v) for v in value]
        return type(value)(items) if type(value) in (list, tuple) else items
    if isinstance(value, dict):
        return {k: unwrapped(v) for k, v in value.items()}
    return value
