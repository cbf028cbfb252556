"""A weak, identity-keyed registry: tensor -> where it came from.

Entries die with their tensors (a weakref callback drops them), keys are
compared by identity (a tensor's `==` is elementwise), and nothing here keeps a
tensor or its autograd graph alive.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch

from ._layout import Layout, Role

__all__ = ["Tag", "lookup", "size", "tag"]


class Tag(NamedTuple):
    """Where a tensor came from: the call's layout, its role and its origin.

    `packed` marks the `.data` of a packed output, annotated only through its
    PackedSequence (padded).
    """

    layout: Layout
    role: Role
    origin: str
    packed: bool = False


class _Ref(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)
    key: int


_tags: dict[int, tuple[_Ref, Tag]] = {}


def _drop(ref: _Ref) -> None:
    entry = _tags.get(ref.key)
    if entry is not None and entry[0] is ref:
        del _tags[ref.key]


def tag(tensor: torch.Tensor, value: Tag) -> None:
    """Remember `value` for `tensor` for as long as the tensor lives."""
    ref = _Ref(tensor, _drop)
    ref.key = id(tensor)
    _tags[ref.key] = (ref, value)


def lookup(tensor: torch.Tensor) -> Tag | None:
    entry = _tags.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def size() -> int:
    """How many live tensors are registered (for leak tests and benchmarks)."""
    return len(_tags)
