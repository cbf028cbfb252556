"""The rows of a PackedSequence's `.data`, followed: attention over packed outputs.

A hierarchical attention network scores every word of a packed output at once,
`self.attention(packed_out.data)`, and pads the scores back with the same batch
sizes: `pad_packed_sequence(PackedSequence(scores, packed_out.batch_sizes, ...))`.
The `.data` of a packed output has the axes `packed ...` (`bh.annotation_of`): one
row per valid token of every sequence, time-major, no padding; while following, so
has the data packed from a named padded tensor (`pack_names`). Ops keep that axis
as any other (`packed feature` after a Linear layer); padding
such rows again gives `batch token ...` (or `token batch ...`), which is what
`pad_packed_sequence` makes of any rows, whatever batch sizes they are packed with.

>>> import torch, bilstm_hooks as bh
>>> from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
>>> gru = torch.nn.GRU(3, 4, batch_first=True)
>>> rec = bh.attach_hooks(torch.nn.ModuleDict({"words": gru}))
>>> packed = pack_padded_sequence(torch.randn(2, 5, 3), [5, 2], batch_first=True)
>>> score = torch.nn.Linear(4, 1)
>>> with bh.follow():
...     out, _ = gru(packed)
...     scores = score(out.data).squeeze(1)
...     padded, _ = pad_packed_sequence(out._replace(data=scores), batch_first=True)
>>> bh.describe(scores).split(" · ")[0], bh.describe(padded).split(" · ")[0]
('packed=7', 'batch=2 token=5')
"""

from __future__ import annotations

from typing import Any

import torch

from .._core.annotated import AnnotatedTensor
from .._core.lookup import PACKED
from .._names.layout import Axes
from .._names.named import Named
from .rule_parts import names_of

__all__ = ["pack_names", "padded_names"]


def _lead(batch_first: bool) -> tuple[tuple[str], tuple[str]]:
    """The leading axes of a padded tensor: `batch token` or `token batch`."""
    return (("batch",), ("token",)) if batch_first else (("token",), ("batch",))


def pack_names(source: AnnotatedTensor, batch_first: bool, data: torch.Tensor) -> Named | None:
    """The names of the data `_pack_padded_sequence` made of `source`, a padded tensor."""
    groups = source.axes.groups
    if len(groups) < 2 or groups[:2] != _lead(batch_first) or source.sliced:
        return None
    sizes = {**source.sizes, PACKED: data.shape[0]}
    axes = Axes.of(((PACKED,), *groups[2:]), sizes)
    return Named(axes, source.origin) if axes.matches(data.shape) else None


def padded_names(data: Any, batch_first: bool, padded: torch.Tensor) -> Named | None:
    """The names of `padded`, `_pad_packed_sequence` of `data`: `packed ...` rows padded
    (the `.data` of a layer's packed output is `packed ...` too: `bh.annotation_of`)."""
    found = names_of(data)
    if found is None or not found.axes.groups or found.axes.groups[0] != (PACKED,):
        return None
    sizes = {
        **{n: s for n, s in found.sizes.items() if n != PACKED},
        "batch": padded.shape[1 - batch_first],
        "token": padded.shape[0 + batch_first],
    }
    axes = Axes.of((*_lead(batch_first), *found.axes.groups[1:]), sizes)
    return Named(axes, f"{found.origin}, padded")
