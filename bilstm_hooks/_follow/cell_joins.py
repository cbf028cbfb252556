"""A cell loop's states joined: `torch.stack(hs, dim=1)` of the `h` each step returned.

Each state a cell returns is named as its loop's `h` at one token (`batch hidden ·
decoder.cell.h: token k`, from the hook, on exactly that tensor). Parts of one origin
and axes at tokens k, k+1, ... in the order of the list, each its own tensor, are the
loop's steps: stacked along a new axis, that axis is `token` (`batch token hidden`,
or `token batch hidden` stacked along dim 0, as the loop built it); joined along an
axis of size one (`h.unsqueeze(1)` parts), that axis becomes `token`; joined along
a longer axis, it fuses with it: `batch (token hidden)`. From step 0 the result is
named as `CellRecord.steps().h` is; from a later step, a note says where it starts.
Anything else (steps out of order, a step twice, other positions): None.

>>> import torch, bilstm_hooks as bh
>>> cell = torch.nn.GRUCell(3, 4)
>>> rec = bh.attach_hooks(torch.nn.ModuleDict({"cell": cell}))
>>> h, hs = None, []
>>> for x in torch.randn(5, 2, 3):
...     h = cell(x, h)
...     hs.append(h)
>>> with bh.follow():
...     stacked = torch.stack(hs, dim=1)
>>> bh.describe(stacked)
'batch=2 token=5 hidden=4 · cell.h · float32 cpu'
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core.annotated import AnnotatedTensor
from .._names.cells import is_cell_state
from .._names.layout import Axes
from .._names.named import Named
from .rule_parts import as_named, joined_axis, storages

__all__ = ["cell_steps_joined"]


def cell_steps_joined(parts: Sequence[AnnotatedTensor], dim: int, *, stack: bool) -> Named | None:
    """The names of a cell loop's consecutive states stacked or joined along `dim`, or None."""
    first = parts[0]
    if len(parts) < 2 or "token" not in first.at or "token" in first.dims:
        return None
    if not is_cell_state(first.origin):
        return None  # a layer's `out[:, k]` of two calls: tokens of two sequences, no loop
    start = first.at["token"]
    others = {k: v for k, v in first.at.items() if k != "token"}
    for offset, part in enumerate(parts):
        at = dict(part.at)
        if at.pop("token", None) != start + offset or at != others:
            return None
        if (part.axes, part.origin, part.sliced, part.sequences, part.lengths) != (
            first.axes, first.origin, first.sliced, first.sequences, first.lengths
        ):  # fmt: skip
            return None
    if storages(parts) != len(parts):
        return None  # one state twice: not the steps of a loop
    groups = list(first.axes.groups)
    axis = joined_axis(len(groups), dim, stack=stack)
    if axis is None:
        return None
    sizes = {**first.sizes, "token": len(parts)}
    if stack:
        groups.insert(axis, ("token",))
    elif groups[axis] == ():
        groups[axis] = ("token",)
    else:
        groups[axis] = ("token", *groups[axis])
    notes = tuple(n for n in first.notes if all(n in p.notes for p in parts))
    if start:
        notes += (f"from step {start}",)
    return as_named(first, Axes.of(groups, sizes), at=tuple(others.items()), notes=notes)
