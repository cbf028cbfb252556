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

__all__ = ["TAGS", "Tag", "lookup", "size", "stored", "sweep", "tag"]

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


# id(tensor) -> (weak reference, tag). The hooks write here directly, as `tag()`
# does, and then call `sweep()` once len(TAGS) >= sweep_at: their hot path.
TAGS: dict[int, tuple[weakref.ref[torch.Tensor], Tag]] = {}
sweep_at = _MIN_SWEEP


def sweep() -> None:
    """Drop the entries of dead tensors; the next sweep is due when the table has doubled."""
    global sweep_at
    dead = [key for key, (ref, _) in TAGS.items() if ref() is None]
    for key in dead:
        del TAGS[key]
    sweep_at = max(_MIN_SWEEP, 2 * len(TAGS))


def tag(tensor: torch.Tensor, value: Tag) -> None:
    """Remember `value` for `tensor` for as long as the tensor lives."""
    TAGS[id(tensor)] = (weakref.ref(tensor), value)
    if len(TAGS) >= sweep_at:
        sweep()


def lookup(tensor: torch.Tensor) -> Tag | None:
    entry = TAGS.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def size() -> int:
    """How many live tensors are registered (for leak tests and benchmarks)."""
    sweep()
    return len(TAGS)


def stored() -> int:
    """How many entries the table holds now, dead ones awaiting a sweep included."""
    return len(TAGS)
