"""A weak, identity-keyed registry: tensor -> where it came from.

Keys are `id(tensor)` checked against a weak reference (a tensor's `==` is
elementwise, and a dead tensor's id may be reused), so nothing here keeps a
tensor or its autograd graph alive. Entries of dead tensors are swept in
batches, when the table has doubled since the last sweep: tagging stays a dict
store plus a plain weak reference, and the table stays bounded.

The hooks do not write here on every call: they note each call in `PENDING`
(weak references, tags, versions) and `flush()` writes those whose tensors are
still alive, once 64 have piled up or before anything reads or writes the table.
In a loop most of a call's tensors are gone by then, and cost nothing more.

A tensor that is a view (a batch-first `out` is a transpose of the layer's own
buffer) holds a base that its sibling views (`out[:, -1]`) hold too. The hooks key
it by itself, and note it in `VIEWS`, the latest such views: its base is made and
keyed (with the view's geometry, `key_base`) only when a sibling is first looked
up, so the forward pass pays nothing more. While following, and for what `tag()`
writes, the base is keyed at once: the follow mode's look at each op's arguments
reads only their own and their base's keys. `find()` returns the entry;
`_core.lookup` derives the names.

Threads: every write (a tag, a sweep) holds `LOCK`; a read is one `dict.get`,
atomic under the GIL, so readers never block writers. Each entry also keeps the
tensor's `_version` when it was tagged: a tensor changed in place since (by
`transpose_`, say) may no longer be laid out as its tag says, and is not
annotated any more (`stale_origin` says what it was).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import TypeAlias

import torch

from .._names.geometry import Geometry, geometry_of
from .._names.named import CachedLayout, Named, Tag, Value

__all__ = [
    "LOCK", "TAGS", "VIEWS", "Entry", "Named", "Pending", "Tag", "Value", "find", "flush",
    "key_base", "key_bases", "lookup", "size", "stale_origin", "stored", "sweep", "tag",
    "tag_new", "version_of",
]  # fmt: skip

_MIN_SWEEP = 256  # entries kept before the first sweep


# What the registry keeps of one tensor, keyed by its id: a weak reference to it, its
# value (a Tag or Named), its `_version` when tagged (-1: an inference tensor), and the
# geometry of the tensor the value describes when the key is its base (else None). A plain
# tuple, typed here and unpacked where it is read: `flush` makes them for every call, and
# NamedTuples there cost the hot path some 15k instructions a call (callgrind).
Entry: TypeAlias = tuple["weakref.ref[torch.Tensor]", Value, int, "Geometry | None"]


# One hooked call noted and not yet written, as the hook appends it: weak references to
# its out, h_n and c_n (None without one), the call shape's CachedLayout, the versions of
# out, h_n, c_n and the input, and whether the call was followed. A plain tuple, typed
# here and unpacked by `flush` alone: one is made every call, and building a NamedTuple
# there costs the hot path a third more instructions (callgrind).
Pending: TypeAlias = tuple[
    "weakref.ref[torch.Tensor]",
    "weakref.ref[torch.Tensor]",
    "weakref.ref[torch.Tensor] | None",
    CachedLayout,
    tuple[int, int, int, int],
    bool,
]


# id(tensor) -> its Entry. The hooks' notes are written here by `flush`, holding LOCK as
# `tag()` does, which calls `sweep()` once len(TAGS) >= sweep_at.
TAGS: dict[int, Entry] = {}
# reentrant: a finalizer run by the garbage collector inside a locked section may tag
LOCK = threading.RLock()
sweep_at = _MIN_SWEEP
# bumped by every write (the flushes of the hooks' notes too): `_core.storage_index` rebuilds its
# index when it moved
GENERATION = [0]
# weak references to the latest tensors the hooks tagged that are views (a batch-first `out`,
# an unbatched `h_n` or `c_n`), newest last
VIEWS: deque[weakref.ref[torch.Tensor]] = deque(maxlen=64)
# the hooks' calls not yet written into TAGS, oldest first. The hooks append without a lock
# (one atomic step); `flush` pops from the left, holding LOCK.
PENDING: deque[Pending] = deque()
FLUSH_AT = 64  # pending calls that make the hook flush


def flush() -> None:
    """Write the pending calls' tags of tensors still alive into TAGS, in call order.

    Every reader and writer of TAGS calls it first, so that nothing pending is
    missed and no older call's tag overwrites a newer one."""
    if not PENDING:  # nothing to write (a call noted meanwhile is a later one): no lock taken
        return
    with LOCK:
        # what other threads' hooks append meanwhile is written too; a note leaves only once
        # written, so that a reader who finds none pending finds every tag in TAGS
        while PENDING:
            note = PENDING[0]
            out_ref, h_n_ref, c_n_ref, cached, versions, following = note
            out = out_ref()
            if out is not None:
                TAGS[id(out)] = (out_ref, cached.out, versions[0], None)
                if following:  # a view (batch-first)? its siblings hold its base: key that
                    key_base(out, cached.out, versions[0])
                elif cached.out_is_view:  # where `find` looks for it, once asked: no base made
                    VIEWS.append(out_ref)
            state_is_view = cached.layout.batch is None  # unbatched: squeezed, a view
            h_n = h_n_ref()
            if h_n is not None:
                TAGS[id(h_n)] = (h_n_ref, cached.h_n, versions[1], None)
                if state_is_view:
                    _key_view(h_n, h_n_ref, cached.h_n, versions[1], following)
            c_n = None if c_n_ref is None else c_n_ref()
            if c_n_ref is not None and c_n is not None:
                TAGS[id(c_n)] = (c_n_ref, cached.c_n, versions[2], None)
                if state_is_view:
                    _key_view(c_n, c_n_ref, cached.c_n, versions[2], following)
            if PENDING and PENDING[0] is note:  # else a flush nested in this one (a finalizer
                PENDING.popleft()  # run by the garbage collector, say) wrote and took it
        GENERATION[0] += 1
        if len(TAGS) >= sweep_at:
            sweep()


def _key_view(
    tensor: torch.Tensor, ref: weakref.ref[torch.Tensor], value: Tag, version: int, now: bool
) -> None:
    """A tagged view (an unbatched `h_n`, squeezed): keyed by its base now (following),
    or where `find` looks for it once asked. Caller holds LOCK."""
    if now:
        key_base(tensor, value, version)
    else:
        VIEWS.append(ref)


def sweep() -> None:
    """Drop the entries of dead tensors; the next sweep is due when the table has doubled."""
    global sweep_at
    with LOCK:
        dead = [key for key, entry in TAGS.items() if entry[0]() is None]  # its weak reference
        for key in dead:
            del TAGS[key]
        GENERATION[0] += 1
        sweep_at = max(_MIN_SWEEP, 2 * len(TAGS))


def version_of(tensor: torch.Tensor) -> int:
    """`tensor._version`, or -1 for an inference tensor, which keeps no version."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


def tag(tensor: torch.Tensor, value: Value) -> None:
    """Remember `value` for `tensor` (and its views) for as long as the tensor lives."""
    with LOCK:
        flush()
        if not key_base(tensor, value, version_of(tensor)):
            TAGS[id(tensor)] = (weakref.ref(tensor), value, version_of(tensor), None)
        GENERATION[0] += 1
        if len(TAGS) >= sweep_at:
            sweep()


def tag_new(tensor: torch.Tensor, value: Value, version: int) -> None:
    """`tag` for a tensor just made (a cell's returned state): keyed by itself alone, as
    `find` looks first, with the `version` it has now; no flush (a pending note is of
    another live tensor, or of a dead one, never written)."""
    with LOCK:
        TAGS[id(tensor)] = (weakref.ref(tensor), value, version, None)
        GENERATION[0] += 1
        if len(TAGS) >= sweep_at:
            sweep()


def key_base(tensor: torch.Tensor, value: Value, version: int) -> bool:
    """Key the view `tensor` by its base, with its geometry, unless the base has an
    entry already: its sibling views (`out[:, -1]` holds the base, not `out`) then
    find it with one look, even once `tensor` itself is gone. Whether it did so.
    Caller holds LOCK."""
    base = tensor._base
    if base is None or _alive(TAGS.get(id(base)), base) is not None:
        return False
    TAGS[id(base)] = (weakref.ref(base), value, version, geometry_of(tensor))
    return True


def key_bases() -> None:
    """`key_base` the views in `VIEWS` (each a batch-first `out` the hooks tagged while not
    following) that are still alive, and empty it: following needs that, since its cheap
    look at an op's arguments reads only their own and their base's keys."""
    with LOCK:
        flush()
        views = list(VIEWS)
        VIEWS.clear()
        for held in views:
            view = held()
            entry = None if view is None else _alive(TAGS.get(id(view)), view)
            if view is not None and entry is not None:
                _, value, version, _ = entry
                key_base(view, value, version)
        if views:
            GENERATION[0] += 1


def _alive(entry: Entry | None, tensor: torch.Tensor) -> Entry | None:
    return entry if entry is not None and entry[0]() is tensor else None


def find(tensor: torch.Tensor) -> tuple[Value, Geometry | None, bool] | None:
    """The entry that describes `tensor` or its base: `(value, geometry, direct)`.

    `geometry` is that of the tensor `value` describes when the entry is keyed by
    its base (None: the keyed tensor itself); `direct` is whether `tensor` is the
    keyed one. None: no entry, or the tensor changed in place since it was tagged.
    """
    flush()
    entry = _alive(TAGS.get(id(tensor)), tensor)
    direct = entry is not None
    if entry is None:
        base = tensor._base
        if base is None:
            return None
        entry = _alive(TAGS.get(id(base)), base) or _sibling(base)
        if entry is None:
            return None
    _, value, version, geometry = entry
    if version != version_of(tensor):
        return None
    return value, geometry, direct


def _sibling(base: torch.Tensor) -> Entry | None:
    """The entry of a latest tagged view of `base` (see `VIEWS`), now keyed by `base` too."""
    with LOCK:
        views = list(VIEWS)
    for held in reversed(views):
        view = held()
        if view is not None and view._base is base:
            entry = _alive(TAGS.get(id(view)), view)
            if entry is not None:
                with LOCK:
                    key_base(view, entry[1], entry[2])  # its value and version
                    GENERATION[0] += 1
                return _alive(TAGS.get(id(base)), base)
    return None


def lookup(tensor: torch.Tensor) -> Tag | None:
    """The hook's tag of exactly `tensor` (`out`, `h_n`, `c_n`, packed `.data`), or None."""
    found = find(tensor)
    if found is None:
        return None
    value, geometry, direct = found
    if not isinstance(value, Tag):
        return None
    if geometry is not None:  # keyed by its base: is this tensor the one described?
        if geometry != geometry_of(tensor):
            return None
    elif not direct:
        return None
    return value


def stale_origin(tensor: torch.Tensor) -> str | None:
    """The origin of a tagged tensor changed in place since it was tagged, else None."""
    flush()
    entry = _alive(TAGS.get(id(tensor)), tensor)
    if entry is None and tensor._base is not None:
        entry = _alive(TAGS.get(id(tensor._base)), tensor._base) or _sibling(tensor._base)
    if entry is None or entry[2] == version_of(tensor):  # tagged at this version
        return None
    origin: str = entry[1].origin
    return origin


def size() -> int:
    """How many live tensors are registered (for leak tests and benchmarks)."""
    flush()
    sweep()
    return len(TAGS)


def stored() -> int:
    """How many entries the table holds now, dead ones awaiting a sweep included."""
    flush()
    return len(TAGS)
