"""Text of one tensor, annotated or not: the value line of `describe`, the debugger's
variables pane and the notebook (names with sizes, where it was taken, its dtype).

Examples:
    >>> import torch
    >>> plain_text(torch.zeros(2, 3))
    'tensor shape=(2, 3) · float32 cpu'
"""

from __future__ import annotations

import functools

import torch
from torch.nn.utils.rnn import PackedSequence

from .._base.dtypes import dtype_and_device
from .._base.packed import packed_lengths_nosync
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.providers import provides
from .._names.derive import Underivable, derive
from .._names.geometry import Geometry, geometry_of
from .._names.layout import DIRECTIONS, Axes, Layout, Role

__all__ = [
    "annotated_text",
    "axes_shape",
    "axes_text",
    "lengths_text",
    "packed_annotation",
    "packed_lengths_text",
    "plain_note",
    "plain_text",
    "positions_text",
    "role_axes",
    "shape_text",
    "stale_note",
    "unnamed_note",
]

_MAX_LENGTHS = 8


def packed_lengths_text(packed: PackedSequence) -> str:
    """`[4, 6, 2]`, at most `_MAX_LENGTHS` of them, from `batch_sizes`: no pad, no device sync."""
    lengths, in_order = packed_lengths_nosync(packed, _MAX_LENGTHS + 1)
    values = lengths.tolist()
    more = ", …" if len(values) > _MAX_LENGTHS else ""
    note = "" if in_order else " (longest first)"
    return f"[{', '.join(map(str, values[:_MAX_LENGTHS]))}{more}]{note}"


@functools.lru_cache(maxsize=1024)
def role_axes(layout: Layout, role: Role) -> Axes:
    """`layout.axes(role)`, remembered: debuggers ask again at every pause."""
    return layout.axes(role)


@functools.lru_cache(maxsize=1024)
def axes_text(axes: Axes) -> str:
    return axes.described()


@functools.lru_cache(maxsize=1024)
def axes_shape(axes: Axes) -> tuple[int, ...]:
    """`axes.shape`, remembered."""
    return axes.shape


def stale_note(tensor: torch.Tensor) -> str:
    """` · was encoder.out, changed in place since: its names may be stale`, or ""."""
    origin = registry.stale_origin(tensor)
    if origin is None:
        return ""
    return f" · was {origin}, changed in place since: its names may be stale"


def unnamed_note(tensor: torch.Tensor) -> str:
    """` · a view of encoder.h_n, unnamed: an axis of size 6 mixes layer and batch`, or "".

    For a view of an annotated tensor whose axes cannot be named (a `view` that mixes
    `batch` into `(layer direction)`, say): metadata only, no tensor data read.
    """
    from .._core.compose import named_of

    found = registry.find(tensor)
    base = tensor._base
    if found is None or found[2] or base is None:
        return ""  # not a view of a tagged tensor (a tagged one is stale: stale_note)
    value, geometry, _ = found
    if isinstance(value, registry.Tag) and value.packed:
        return ""
    named = named_of(value)
    reason = _why_unnamed(named.axes, geometry or geometry_of(base), geometry_of(tensor))
    if reason is None:
        return ""
    return f" · a view of {named.origin or 'an annotated tensor'}, unnamed: {reason}"


@functools.lru_cache(maxsize=1024)
def _why_unnamed(axes: Axes, base: Geometry, view: Geometry) -> str | None:
    derived = derive(axes, base, view)
    return derived.reason if isinstance(derived, Underivable) else None


def plain_note(tensor: torch.Tensor) -> str:
    """Why a tensor that `annotation_of` does not name is still worth a word, else ""."""
    return stale_note(tensor) or unnamed_note(tensor)


def shape_text(tensor: torch.Tensor) -> str:
    """`tensor shape=(6, 8)`; a nested tensor has no one shape: `nested tensor, 2 components`."""
    if tensor.is_nested:
        count = tensor.size(0)
        return f"nested tensor, {count} component{'' if count == 1 else 's'}"
    return f"tensor shape={tuple(tensor.shape)}"


def shaped(text: str, axes: Axes) -> str:
    """`text` (a value line) with the plain shape after the names, where an axis fuses
    several: `batch=4 (direction=2 hidden=64) · shape=(4, 128) · encoder.h_n ...`; the
    debugger's line, where `(direction=2 hidden=64)` must not hide that it is 128 wide."""
    if all(len(group) < 2 for group in axes.groups):
        return text
    names, sep, rest = text.partition(" · ")
    return f"{names} · shape={axes_shape(axes)}{sep}{rest}"


def plain_text(tensor: torch.Tensor, note: str | None = None) -> str:
    """`tensor shape=(6, 8) · float32 cpu`, then its `plain_note` (given, or found)."""
    if note is None:
        note = "" if tensor.is_nested else plain_note(tensor)
    return f"{shape_text(tensor)} · {dtype_and_device(tensor)}{note}"


def positions_text(at: dict[str, int]) -> str:
    """`layer 1, backward, token 5`: where the dims indexed away were taken."""
    parts = []
    for name, position in at.items():
        if name == "direction":
            parts.append(DIRECTIONS[position] if position < 2 else f"direction {position}")
        elif name == "batch":
            parts.append(f"sequence {position}")
        else:
            parts.append(f"{name} {position}")
    return ", ".join(parts)


def place_text(origin: str, at: dict[str, int]) -> str:
    """`encoder.h_n: layer 1, backward`: the origin, then where a view was taken."""
    where = positions_text(at) if at else ""
    return f"{origin}: {where}" if origin and where else origin or where


@provides("annotated tensor where")
def where_text(annotated: AnnotatedTensor) -> str:
    """`<LSTM>.h_n: layer 1, backward · backward direction only`: a view's origin, where
    it was taken and its notes, for the repr of an `AnnotatedTensor` (empty for none)."""
    parts = [place_text(annotated.origin, annotated.at), *annotated.notes]
    return " · ".join(part for part in parts if part)


def lengths_text(lengths: tuple[int, ...]) -> str:
    """`[4, 6, 2]`: at most the first eight."""
    more = ", …" if len(lengths) > _MAX_LENGTHS else ""
    return f"[{', '.join(map(str, lengths[:_MAX_LENGTHS]))}{more}]"


def annotated_text(
    axes: Axes,
    origin: str,
    tensor: torch.Tensor,
    annotated: AnnotatedTensor | None = None,
) -> str:
    """`batch=4 token=12 (direction=2 hidden=64) · encoder.out · float32 cpu`, then where a
    view was taken (`encoder.h_n: layer 1, backward`), its notes and lengths."""
    place = place_text(origin, annotated.at if annotated is not None else {})
    where = f" · {place}" if place else ""
    tail = ""
    if annotated is not None:
        if annotated.notes:
            tail += f" · {'; '.join(annotated.notes)}"
        if annotated.lengths is not None:
            tail += f" · lengths {lengths_text(annotated.lengths)}"
    return f"{axes_text(axes)}{where} · {dtype_and_device(tensor)}{tail}"


def packed_annotation(packed: PackedSequence) -> tuple[Axes, str] | None:
    """Named axes (of the padded form) and origin of a PackedSequence a hooked module returned.

    Metadata only, unlike `annotation_of`, which pads: None for any other PackedSequence.
    """
    found = registry.lookup(packed.data)
    if found is None or not found.packed:
        return None
    axes = role_axes(found.layout, found.role)
    if (
        packed.batch_sizes.shape[0] != found.layout.tokens
        or tuple(packed.data.shape[1:]) != axes_shape(axes)[2:]
    ):
        return None
    return axes, found.origin
