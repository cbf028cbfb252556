"""Two joins real models make: features side by side, and the steps of a loop.

**Along the last axis** (`torch.cat([rnn_output, context], -1)`, a decoder joining
its state with an attention context): the rows of the result are the rows of every
part, so the leading axes keep the names the named parts share. The joined axis is a
new `feature`, its parts noted. A part need not be named (a cell's state, an
embedding): its leading axes are the same size, so the rows still line up; a named
part that disagrees (other names, sizes, rows reordered differently) gives no names,
and so do views of one tensor (`cat([h_n[0], h_n[3]], -1)`: rows of `h_n` that no
order joins are no features) and a last axis of sequences or tokens (a `cat` along
the last axis of `batch` parts joins rows, not features).

**The steps of a loop** (`torch.stack(mel_outputs)`, `torch.cat(att_vectors, 1)` of
`batch () feature` parts): parts of different tensors computed the same way (one
origin, the same axes, positions and sizes) stacked along a new axis, or joined along
an unnamed axis of size one, get the axis `step`: part i of the list at position i.

>>> import torch, bilstm_hooks as bh
>>> gru = torch.nn.GRU(3, 4, batch_first=True)
>>> rec = bh.attach_hooks(torch.nn.ModuleDict({"decoder": gru}))
>>> steps = [gru(torch.randn(2, 1, 3))[0][:, 0] for _ in range(5)]
>>> with bh.follow():
...     stacked = torch.stack(steps, dim=1)
...     joined = torch.cat([steps[0], torch.zeros(2, 6)], -1)
>>> bh.describe(stacked).split(" · ")[:2]
['batch=2 step=5 (direction=1 hidden=4)', 'decoder.out, 5 steps stacked']
>>> bh.describe(joined).split(" · ")[:2]
['batch=2 feature=10', 'decoder.out, joined along feature']
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._core.annotated import AnnotatedTensor, named_from
from .._names.layout import Axes
from .._names.named import Named
from .rule_parts import as_named, joined_axis, storages

__all__ = ["STEP", "features_joined", "steps_joined"]

STEP = "step"
"""The axis of the parts of a loop, stacked or joined in the order of the list."""


_ALONG_ROWS = {"batch", "token", STEP}  # a last axis of these: parts along rows, not features


def _part_text(part: AnnotatedTensor | None, size: int) -> str:
    return f"{size} unnamed" if part is None else f"{size} of {part.origin} ({part.pattern})"


def features_joined(
    parts: Sequence[AnnotatedTensor | None], tensors: Sequence[torch.Tensor], dim: int
) -> Named | None:
    """The names of `tensors` joined along their last axis: the leading axes the named
    parts share, then `feature`; None if the parts disagree or `dim` is not the last."""
    named = [p for p in parts if p is not None]
    if not named or len(tensors) < 2:
        return None
    first = named[0]
    rank = len(first.axes.groups)
    if rank < 1 or dim not in (rank - 1, -1) or any(t.dim() != rank for t in tensors):
        return None
    lead = first.axes.groups[:-1]
    lead_names = {n for g in lead for n in g}
    if "feature" in lead_names or any(
        set(p.axes.groups[-1]) & _ALONG_ROWS
        or p.axes.groups[:-1] != lead
        or any(p.sizes[n] != first.sizes[n] for n in lead_names)
        or p.sequences != first.sequences
        for p in named
    ):
        return None
    if storages(named) != len(named):
        return None  # views of one tensor (`h_n[0]`, `h_n[-1]`): `misuse.joined`'s, or mixed
    sizes = {n: first.sizes[n] for n in lead_names}
    sizes["feature"] = sum(t.shape[-1] for t in tensors)
    at = {k: v for k, v in first.at.items() if all(p.at.get(k) == v for p in named)}
    notes = tuple(n for n in first.notes if all(n in p.notes for p in named))
    stored = [named_from(p).lengths for p in named]  # the sequences' own, not the view's
    lengths = stored[0] if all(n == stored[0] for n in stored) else None
    joined = " + ".join(_part_text(p, t.shape[-1]) for p, t in zip(parts, tensors, strict=True))
    origins = {p.origin for p in named}
    origin = first.origin if len(origins) == 1 else "parts"
    return as_named(
        first,
        Axes.of((*lead, ("feature",)), sizes),
        origin=f"{origin}, joined along feature",
        at=tuple(at.items()),
        notes=(*notes, f"feature = {joined}"),
        lengths=lengths,
    )


def steps_joined(parts: Sequence[AnnotatedTensor], dim: int, *, stack: bool) -> Named | None:
    """The names of a loop's parts stacked along a new axis, or joined along an unnamed
    axis of size one: that axis is `step`; None unless the parts are alike."""
    first = parts[0]
    groups = list(first.axes.groups)
    if len(parts) < 2 or not first.origin:
        return None
    axis = joined_axis(len(groups), dim, stack=stack)
    if axis is None:
        return None
    if STEP in first.dims or (not stack and groups[axis] != ()) or "token" in first.at:
        return None  # parts at a token each (`out[:, -1:]` of two calls): tokens, not steps
    if any(
        (p.axes, p.origin, p.at, p.sliced, p.sequences, p.lengths)
        != (first.axes, first.origin, first.at, first.sliced, first.sequences, first.lengths)
        for p in parts
    ):
        return None
    if storages(parts) != len(parts):
        return None  # views of one tensor, or one tensor twice: not the steps of a loop
    if stack:
        groups.insert(axis, (STEP,))
    else:
        groups[axis] = (STEP,)
    sizes = {**first.sizes, STEP: len(parts)}
    notes = tuple(n for n in first.notes if all(n in p.notes for p in parts))
    verb = "stacked" if stack else "joined"
    return as_named(
        first,
        Axes.of(groups, sizes),
        origin=f"{first.origin}, {len(parts)} steps {verb}",
        notes=notes,
    )
