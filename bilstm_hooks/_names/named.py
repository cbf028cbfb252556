"""The names a tensor is registered with: a hook's `Tag` (its call's layout and role)
or explicit `Named` axes (a view, a copy followed through an op, a record's tensor).
Metadata only: nothing here holds a tensor.

Examples:
    >>> from bilstm_hooks._names.layout import Axes
    >>> axes = Axes.of([("batch",), ("hidden",)], {"batch": 2, "hidden": 4})
    >>> Named(axes, "encoder.h_n[-1]", at=(("layer", 1),)).at
    (('layer', 1),)
"""

from __future__ import annotations

from typing import NamedTuple

from .layout import Axes, Layout, Role

__all__ = ["CachedLayout", "Named", "Tag", "Value"]


class Tag(NamedTuple):
    """Where a tensor came from: the call's layout, its role and its origin.

    `packed` marks the `.data` of a packed output, annotated only through its
    PackedSequence (padded).
    """

    layout: Layout
    role: Role
    origin: str
    packed: bool = False


class Named(NamedTuple):
    """Named axes given explicitly: a view, a copy followed through an op, a record's tensor.

    `at` holds the positions of dims indexed away, `notes` caveats, `lengths` the
    valid tokens per batch row of a padded tensor (in its batch order); `sliced` the
    dims kept in part, as `(name, start, stop, step)` in the positions of the tensor
    `origin` names, and `full` their sizes there; `sequences`, for batch rows
    reordered or picked (`out[order]`), the row of that tensor each of its batch rows
    holds (None: not known), while `batch` is then never in `sliced`.
    """

    axes: Axes
    origin: str
    at: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()
    lengths: tuple[int, ...] | None = None
    sliced: tuple[tuple[str, int, int, int], ...] = ()
    full: tuple[tuple[str, int], ...] = ()
    sequences: tuple[int | None, ...] | None = None


Value = Tag | Named


class CachedLayout(NamedTuple):
    """What a hook derives once per call shape: the layout, the tags of `out`, `h_n` and
    `c_n`, and whether `out` is a view (batch-first, unbatched), as every such call gives it."""

    layout: Layout
    out: Tag
    h_n: Tag
    c_n: Tag
    out_is_view: bool
