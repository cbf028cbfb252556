"""A weak, identity-keyed registry: tensor -> where it came from.

Keys are `id(tensor)` checked against a weak reference (a tensor's `==` is
elementwise, and a dead tensor's id may be reused), so nothing here keeps a
tensor or its autograd graph alive. Entries of dead tensors are swept in
batches, when the table has doubled since the last sweep: tagging stays a dict
store plus a plain weak reference, and the table stays bounded.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch

from ._layout import Layout, Role

__all__ = ["Tag", "lookup", "size", "stored", "tag", "tag_call"]

_MIN_SWEEP = 256  # entries kept before the first sweep


class Tag(NamedTuple):
    """Where a tensor came from: the call's layout, its role and its origin.

    `packed` marks the `.data` of a packed output, annotated only through its
    PackedSequence (padded).
    """

    layout: Layout
    role: Role
    origin: str
    packed: bool = False


_tags: dict[int, tuple[weakref.ref[torch.Tensor], Tag]] = {}
_sweep_at = _MIN_SWEEP


def _sweep() -> None:
    global _sweep_at
    dead = [key for key, (ref, _) in _tags.items() if ref() is None]
    for key in dead:
        del _tags[key]
    _sweep_at = max(_MIN_SWEEP, 2 * len(_tags))


def tag(tensor: torch.Tensor, value: Tag) -> None:
    """Remember `value` for `tensor` for as long as the tensor lives."""
    _tags[id(tensor)] = (weakref.ref(tensor), value)
    if len(_tags) >= _sweep_at:
        _sweep()


def tag_call(
    out: torch.Tensor,
    out_tag: Tag,
    h_n: torch.Tensor,
    h_n_tag: Tag,
    c_n: torch.Tensor | None,
    c_n_tag: Tag,
) -> None:
    """`tag()` for the tensors of one call (`c_n` None but for an LSTM): the hooks' hot path."""
    ref = weakref.ref
    _tags[id(out)] = (ref(out), out_tag)
    _tags[id(h_n)] = (ref(h_n), h_n_tag)
    if c_n is not None:
        _tags[id(c_n)] = (ref(c_n), c_n_tag)
    if len(_tags) >= _sweep_at:
        _sweep()


def lookup(tensor: torch.Tensor) -> Tag | None:
    entry = _tags.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def size() -> int:
    """How many live tensors are registered (for leak tests and benchmarks)."""
    _sweep()
    return len(_tags)


def stored() -> int:
    """How many entries the table holds now, dead ones awaiting a sweep included."""
    return len(_tags)
