"""Batch rows: which an index takes (`gather` by whole rows, `out[:, order]`, a mask), and
which sequence each holds once reordered (`reordered`).

>>> import torch
>>> from bilstm_hooks._follow.batch_rows import gathered_rows
>>> index = torch.tensor([2, 0, 1]).view(1, 3, 1).expand(5, 3, 8)
>>> gathered_rows(index, 1)
tensor([2, 0, 1])
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import torch
from torch.nn.utils.rnn import pad_packed_sequence

from .._core.annotated import AnnotatedTensor, named_from
from .._names.layout import Axes
from .._names.notes import is_order_note, is_padding_note, order_note, padding_rows, slice_notes
from .rule_parts import as_named, full_sizes, tag, without

__all__ = ["batch_index", "gathered_rows", "held_rows", "reordered"]


def gathered_rows(index: torch.Tensor, axis: int) -> torch.Tensor | None:
    """The rows `gather` takes along `axis`, when each output row is one whole input row."""
    if index.device.type != "cpu" or index.dim() == 0:
        return None
    rows = index.movedim(axis, 0).flatten(1)
    if rows.shape[1] and bool((rows == rows[:, :1]).all()):
        return rows[:, 0]
    return None


def batch_index(groups: int, index: Any) -> tuple[int, torch.Tensor | None] | None:
    """`(axis, rows)` of `out[:, order]`: one integer (or boolean) 1-D index, the rest `:`."""
    items = index if isinstance(index, tuple) else (index,)
    where = [k for k, item in enumerate(items) if item is Ellipsis]  # by identity: tensors
    if len(where) > 1:
        return None
    if where:
        k = where[0]
        fill = (slice(None),) * (groups - len(items) + 1)
        items = (*items[:k], *fill, *items[k + 1 :])
    found: list[tuple[int, torch.Tensor | None]] = []
    for axis, item in enumerate(items):
        if isinstance(item, list) and item and all(type(i) is int for i in item):
            item = torch.tensor(item)
        if isinstance(item, torch.Tensor) and item.dim() == 1:
            if item.is_floating_point() or item.is_complex():
                return None
            if item.dtype == torch.bool:
                found.append(
                    (axis, item.nonzero().squeeze(1) if item.device.type == "cpu" else None)
                )
            else:
                found.append((axis, item))
        elif not (isinstance(item, slice) and item == slice(None)):
            return None
    return found[0] if len(found) == 1 else None


def held_rows(source: AnnotatedTensor) -> tuple[int | None, ...]:
    """Which row of the original each batch row of `source` holds: its `sequences`, else
    the rows of its slice along batch, else its own order."""
    if source.sequences is not None:
        return source.sequences
    count = source.sizes["batch"]
    start, _, step = source.sliced.get("batch", (0, 0, 1))
    return tuple(start + i * step for i in range(count))


def reordered(
    source: AnnotatedTensor, axis: int, index: torch.Tensor | None, result: torch.Tensor
) -> None:
    """`result` holds the rows `index` of `source` along `axis`, a `batch` axis: each
    keeps the sequence it holds (`sequences`), not known where the index is not (on
    another device than the CPU, say), and its length."""
    if source.axes.groups[axis] != ("batch",):
        return
    count = result.shape[axis]
    picked = None
    if index is not None and index.dim() == 1 and index.device.type == "cpu":
        picked = index.tolist()
    held = held_rows(source)
    sequences: tuple[int | None, ...] | None
    sequences = tuple(held[i] for i in picked) if picked is not None else (None,) * count
    # the batch size of the tensor the rows come from (None: not known)
    original = full_sizes(source) if source.sequences is None else dict(named_from(source).full)
    whole = original.get("batch")
    if _unsorting(sys._getframe(1)) or (whole is not None and sequences == tuple(range(whole))):
        sequences = None  # back in the caller's order (`pad_rule` named the rows by it)
    lengths = named_from(source).lengths
    if lengths is not None:
        lengths = tuple(lengths[i] for i in picked) if picked is not None else None
    sizes = {**source.sizes, "batch": count}
    axes = Axes.of(source.axes.groups, sizes)
    stale = slice_notes({"batch": source.sliced["batch"]} if "batch" in source.sliced else {})
    notes = tuple(
        n
        for n in source.notes
        if not is_order_note(n) and n not in stale and not is_padding_note(n)
    )
    if lengths is not None and "token" in source.at:  # the rows padding there, in this order
        notes += padding_rows(lengths, source.at["token"])
    if sequences is not None:
        notes += (order_note(sequences),)
    named = as_named(source, axes, lengths=lengths, notes=notes, sequences=sequences)
    named = without(named, "batch")
    if sequences is not None and whole is not None:  # kept: the rows may come back in order
        named = named._replace(full=(*named.full, ("batch", whole)))
    tag(result, named)


_PAD_PACKED = pad_packed_sequence.__code__


def _unsorting(frame: FrameType | None) -> bool:
    """Whether the op runs in `pad_packed_sequence` itself: its `index_select` puts the
    rows of the padded batch (longest first) back in the caller's order."""
    for _ in range(6):  # this rule's frames, the mode's, then the op's caller
        if frame is None:
            return False
        if frame.f_code is _PAD_PACKED:
            return True
        frame = frame.f_back
    return False
