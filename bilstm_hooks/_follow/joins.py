"""`cat` of equally named parts of different tensors, along `batch` or `token`.

A seq2seq decoder calls its GRU once a step and joins the steps' outputs with
`torch.cat(outputs, dim=1)` (each `batch token=1 hidden`); two batches' outputs are
joined along `batch`. Such parts (different tensors, one origin, the same axes and
sizes but along the joined axis, the same positions and slices) joined along an
axis that is `batch` or `token` alone keep their names, the joined size summed, with
an origin that says so. Conservative, never a guess: a padded part joined along
`token` (its padding would sit in the middle), a part sliced along the joined dim,
any other axis, and `stack` (a new axis no name describes) give None. Along `batch`,
the lengths are joined where every part has them, else dropped.

Views of one tensor that differ in one position (`cat([h_n[-2], h_n[-1]], -1)`) are
`_follow.misuse.joined`'s, which warns about directions joined along `batch`.

>>> import torch, bilstm_hooks as bh
>>> gru = torch.nn.GRU(3, 4, batch_first=True)
>>> rec = bh.attach_hooks(torch.nn.ModuleDict({"decoder": gru}))
>>> steps = [gru(torch.randn(2, 1, 3))[0] for _ in range(5)]
>>> with bh.follow():
...     joined = torch.cat(steps, dim=1)
>>> bh.describe(joined)
'batch=2 token=5 (direction=1 hidden=4) · decoder.out, 5 parts joined along token · float32 cpu'
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core.annotated import AnnotatedTensor, named_from
from .._names.layout import Axes
from .._names.named import Named
from .._names.notes import is_order_note, is_padding_rows, padding_rows
from .rule_parts import storages

__all__ = ["JOINABLE", "calls_joined"]

JOINABLE = ("batch", "token")
"""The dims along which parts of different tensors are joined."""

_PADDED = (
    ", padded"  # in the origin of a padded output (`_follow.rules.pad_rule`), lengths known or not
)


def calls_joined(parts: Sequence[AnnotatedTensor], dim: int, *, stack: bool) -> Named | None:
    """The names of equally named parts of different tensors joined along `dim`, or None."""
    first = parts[0]
    groups = first.axes.groups
    if stack or len(parts) < 2 or not first.origin or not -len(groups) <= dim < len(groups):
        return None
    joined = groups[dim % len(groups)]
    if len(joined) != 1 or joined[0] not in JOINABLE or joined[0] in first.sliced:
        return None
    (name,) = joined
    others = {**first.sizes, name: 0}
    if any(
        p.axes.groups != groups
        or {**p.sizes, name: 0} != others
        or (p.origin, p.at, p.sliced, p.sequences)
        != (first.origin, first.at, first.sliced, first.sequences)
        for p in parts
    ):
        return None
    if storages(parts) != len(parts):
        return None  # views of one tensor: `_follow.misuse.joined`'s, or the same data twice
    notes = tuple(note for note in first.notes if all(note in p.notes for p in parts))
    lengths: tuple[int, ...] | None = None
    if name == "token":
        if _PADDED in first.origin or any(p.lengths is not None for p in parts):
            return None  # each part's padding would sit in the middle of the tokens
    elif all(named_from(p).lengths is not None for p in parts):
        lengths = tuple(n for p in parts for n in named_from(p).lengths or ())
    sequences = first.sequences
    if name == "batch":  # rows named by their place in a part: in the whole, elsewhere
        notes = tuple(n for n in notes if not is_padding_rows(n) and not is_order_note(n))
        sequences = None  # rows of the whole, a new origin
        if lengths is not None and "token" in first.at:
            notes += padding_rows(lengths, first.at["token"])
    sizes = {**first.sizes, name: sum(p.sizes[name] for p in parts)}
    axes = Axes.of(groups, sizes)
    origin = f"{first.origin}, {len(parts)} parts joined along {name}"
    return named_from(first, axes, origin=origin, notes=notes, lengths=lengths, sequences=sequences)
