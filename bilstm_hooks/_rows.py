"""Which batch rows an index takes: `gather` by whole rows, `out[:, order]`, a mask.

>>> import torch
>>> from bilstm_hooks._rows import gathered_rows
>>> index = torch.tensor([2, 0, 1]).view(1, 3, 1).expand(5, 3, 8)
>>> gathered_rows(index, 1)
tensor([2, 0, 1])
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["batch_index", "gathered_rows"]


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
