"""A weak, identity-keyed registry: tensor -> where it came from.

Keys are `id(tensor)` checked against a weak reference (a tensor's `==` is
elementwise, and a dead tensor's id may be reused), so nothing here keeps a
tensor or its autograd graph alive. Entries of dead tensors are swept in
batches, when the table has doubled since the last sweep: tagging stays a dict
store plus a plain weak reference, and the table stays bounded.

Threads: every write (a tag, a sweep) holds `LOCK`; a read is one `dict.get`,
atomic under the GIL, so readers never block writers. Each entry also keeps the
tensor's `_version` when it was tagged: a tensor changed in place since (by
`transpose_`, say) may no longer be laid out as its tag says, and is not
annotated any more (`stale_origin` says what it was).
"""

from __future__ import annotations

import threading
import weakref
from typing import NamedTuple

import torch

from ._layout import Layout, Role

__all__ = [
    "LOCK",
    "TAGS",
    "Tag",
    "lookup",
    "size",
    "stale_origin",
    "stored",
    "sweep",
    "tag",
    "version_of",
]

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


# id(tensor) -> (weak reference, tag, tensor._version when tagged). The hooks write
# here directly, holding LOCK as `tag()` does, and call `sweep()` once
# len(TAGS) >= sweep_at: their hot path.
TAGS: dict[int, tuple[weakref.ref[torch.Tensor], Tag, int]] = {}
# reentrant: a finalizer run by the garbage collector inside a locked section may tag
LOCK = threading.RLock()
sweep_at = _MIN_SWEEP


def sweep() -> None:
    """Drop the entries of dead tensors; the next sweep is due when the table has doubled."""
    global sweep_at
    with LOCK:
        dead = [key for key, entry in TAGS.items() if entry[0]() is None]
        for key in dead:
            del TAGS[key]
        sweep_at = max(_MIN_SWEEP, 2 * len(TAGS))


def version_of(tensor: torch.Tensor) -> int:
    """`tensor._version`, or -1 for an inference tensor, which keeps no version."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


def tag(tensor: torch.Tensor, value: Tag) -> None:
    """Remember `value` for `tensor` for as long as the tensor lives."""
    with LOCK:
        TAGS[id(tensor)] = (weakref.ref(tensor), value, version_of(tensor))
        if len(TAGS) >= sweep_at:
            sweep()


def _entry(tensor: torch.Tensor) -> tuple[weakref.ref[torch.Tensor], Tag, int] | None:
    entry = TAGS.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry


def lookup(tensor: torch.Tensor) -> Tag | None:
    """The tag of `tensor`, or None: never tagged, or changed in place since."""
    entry = _entry(tensor)
    if entry is None or entry[2] != version_of(tensor):
        return None
    return entry[1]


def stale_origin(tensor: torch.Tensor) -> str | None:
    """The origin of a tagged tensor changed in place since it was tagged, else None."""
    entry = _entry(tensor)
    if entry is None or entry[2] == version_of(tensor):
        return None
    return entry[1].origin


def size() -> int:
    """How many live tensors are registered (for leak tests and benchmarks)."""
    sweep()
    return len(TAGS)


def stored() -> int:
    """How many entries the table holds now, dead ones awaiting a sweep included."""
    return len(TAGS)
