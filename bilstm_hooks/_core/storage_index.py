"""The registry's last-resort look: tagged tensors that share a tensor's storage.

`find` reaches a tensor's own entry and its base's. A `detach()`, `.data` or a view
of a tagged view shares the storage of a tagged tensor instead, and is found here
through an index of the registry's live entries by storage address.
"""

from __future__ import annotations

import torch

from .._names.geometry import Geometry, geometry_of
from .registry import GENERATION, PENDING, TAGS, Value, flush, sweep, version_of

__all__ = ["may_be_named", "sharing"]

_INDEXED_AT_MOST = 2048  # live entries; past that the last-resort storage look is skipped
_swept = [-1]  # GENERATION after the latest sweep made for the storage look


def sharing(tensor: torch.Tensor) -> list[tuple[Value, Geometry]]:
    """Entries of other tensors on `tensor`'s storage, with the geometry each describes.

    For what `find` cannot reach: `detach()`, `.data`, a view of a tagged view.
    Read through an index by storage address, rebuilt when the table has changed
    (a few ms for 2,000 entries, once per change); skipped while more are alive
    (dead ones are swept first). Each candidate is checked alive and on the same
    storage, never assumed.
    """
    flush()
    if not TAGS:  # nothing tagged: nothing to share with (the repr patch's usual case)
        return []
    address = _address(tensor)
    if len(TAGS) > _INDEXED_AT_MOST and _swept[0] != GENERATION[0]:
        sweep()  # the dead entries of many calls do not count, only the live ones
        _swept[0] = GENERATION[0]
    if not address or len(TAGS) > _INDEXED_AT_MOST:
        return []
    found = []
    for key in _index().get(address, ()):
        entry = TAGS.get(key)
        if entry is None:
            continue
        ref, value, version, geometry = entry
        keyed = ref()
        if keyed is None or keyed is tensor or _address(keyed) != address:
            continue
        if version not in (version_of(tensor), -1):  # -1: inference, unchangeable
            continue
        found.append((value, geometry if geometry is not None else geometry_of(keyed)))
    return found


def may_be_named(tensor: torch.Tensor) -> bool:
    """Whether an entry could name `tensor`: its own, its base's, or one of a tensor on
    its storage. A cheap look (False is sure): the repr patch skips the lookup on False.

    A base shares its views' storage, so the storage look covers the base's entry too.
    It runs between two reprs, with cold caches: one read of the tensor, inlined.
    """
    if PENDING:
        flush()
    if not TAGS:
        return False
    if id(tensor) in TAGS or len(TAGS) > _INDEXED_AT_MOST:
        return True  # past the bound, `sharing` sweeps first: let it decide
    try:
        address = _storage_address(tensor)
    except Exception:  # no storage (sparse): only its own entry or its base's could name it
        base = tensor._base
        return base is not None and id(base) in TAGS
    return address in (_by_address if _indexed == GENERATION[0] else _index())


def _storage_address_of(tensor: torch.Tensor) -> int:
    """The storage's own address, where torch has no `_storage_address` (older builds)."""
    return int(tensor.untyped_storage()._cdata)


# The address of the tensor's StorageImpl: one per storage, views and `detach()` included,
# and the same after a `resize_`; read without building a Python storage object.
_storage_address = getattr(torch._C, "_storage_address", _storage_address_of)


def _address(tensor: torch.Tensor) -> int:
    """The storage's address; 0 where there is none to compare (sparse)."""
    try:
        return int(_storage_address(tensor))
    except Exception:
        return 0


_by_address: dict[int, list[int]] = {}
_indexed = -1


def _index() -> dict[int, list[int]]:
    global _by_address, _indexed
    state = GENERATION[0]
    if state != _indexed:
        index: dict[int, list[int]] = {}
        for key, entry in list(TAGS.items()):
            keyed = entry[0]()  # its weak reference
            if keyed is not None:
                address = _address(keyed)
                if address:
                    index.setdefault(address, []).append(key)
        _by_address, _indexed = index, state
    return _by_address
