"""The one place that answers "what is this tensor?".

A tensor is annotated when the registry holds its tag (the hook's `out`, `h_n`,
`c_n`; a record's tensors; a tensor followed through an op), or when it is a
view of such a tensor: its names are then derived from its shape, strides and
storage offset (`_names.derive`), when read, at no cost to the forward pass.
`annotation_of` gives an `AnnotatedTensor` or None; `describe`, the debugger, the
REPL, notebooks and the summary all ask it, and none reads the registry itself.

Examples:
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

import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.arguments import expect_bool
from .._names.geometry import geometry_of
from .._names.layout import Axes
from .._names.named import Tag
from . import registry
from .annotated import AnnotatedTensor, derived_view, with_names
from .compose import named_of, view_names
from .storage_index import sharing

__all__ = ["PACKED", "annotation_of"]


PACKED = "packed"
"""The axis of a PackedSequence's data rows: each valid token of each sequence, once."""


def _packed_rows(tensor: torch.Tensor, tag: Tag) -> AnnotatedTensor | None:
    """The `.data` of a hooked layer's packed output: `packed ...`, one row per valid token."""
    role = tag.layout.axes(tag.role)
    axes = Axes.of(((PACKED,), role.groups[-1]), {**role.size_of, PACKED: tensor.shape[0]})
    return AnnotatedTensor(tensor, axes, tag.origin) if axes.matches(tensor.shape) else None


def annotation_of(obj: object, *, shared: bool = True) -> AnnotatedTensor | None:
    """The annotation of a tensor (or PackedSequence) from a hooked module, or of a view of one.

    Looked up by identity in a weak registry (no tensor is kept alive by it); a
    view (`out[:, -1]`, `h_n[-1]`, `out.transpose(0, 1)`) is named from its strides
    against the tensor it views, with the dims it indexed away in `.at`. A
    PackedSequence is annotated in its padded form, its `.data` as `packed ...` (a row
    per valid token, time-major). Anything else: None.
    `shared=False` skips the last resort, a look through the tensors on the same
    storage (what finds `out.detach()`).

    Raises:
        TypeError: `shared` is not a bool.

    Examples:
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
        if isinstance(value, Tag) and value.packed:  # the .data of a packed output
            return _packed_rows(obj, value) if direct and geometry is None else None
        named = named_of(value)
        if direct and geometry is None:
            if not named.axes.matches(obj.shape):  # resized in place: stale
                return None
            return with_names(obj, view_names(named, named.axes, {}, {}))
        if geometry is None:
            assert obj._base is not None  # found through its base
            geometry = geometry_of(obj._base)
        annotated = derived_view(obj, named, geometry)
        if annotated is not None:
            return annotated
    for value, geometry in sharing(obj) if shared else ():  # detach(), .data
        if not (isinstance(value, Tag) and value.packed):
            annotated = derived_view(obj, named_of(value), geometry)
            if annotated is not None:
                return annotated
    return None


def _packed(packed: PackedSequence) -> AnnotatedTensor | None:
    found = registry.lookup(packed.data)
    if found is None or not found.packed:
        return None
    padded, _ = pad_packed_sequence(packed, batch_first=found.layout.batch_first)
    axes = found.layout.axes(found.role)
    if not axes.matches(padded.shape):
        return None
    return AnnotatedTensor(padded, axes, found.origin)
