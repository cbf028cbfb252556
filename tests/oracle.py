"""An oracle for named dims, independent of the derivation: what the names say, rebuilt.

`expected(base, root, found)`: the tensor that `found`'s names describe, built from
the annotated tensor `base` (named `root`) with einops alone: unfuse `root` to its
elementary dims, take each dim at its position in `found.at` or its slice in
`found.sliced` (positions `range(start, stop, step)`, a reversed order included), and
rearrange to `found.pattern`, repeating the result along each axis `found` names but
`root` does not (a broadcast axis: the same elements at each of its positions). A
derived annotation is right when this equals the view it names.

`ids_like(base)`: a tensor of `base`'s geometry (shape, strides, storage offset) whose
every element holds its own storage index, so that a view of it taken the same way
holds, at each position, which element of `base` is there: no two positions agree by
chance (as padding zeros would).

`nameable(ids_base, root, ids_view)`: whether named dims can describe the view at all,
decided from the element coordinates (not strides): each axis of the view must run
over whole or sliced dims of its own, as a row-major product of arithmetic progressions,
or over none (a broadcast axis), and every other dim must stay at one position.
"""

from __future__ import annotations

import itertools

import einops
import torch

import bilstm_hooks as bh


def elementary(base: torch.Tensor, root: bh.AnnotatedTensor) -> torch.Tensor:
    """`base` with one axis per elementary dim, in `root.dims` order."""
    return einops.rearrange(base, f"{root.pattern} -> {' '.join(root.dims)}", **root.sizes)


def expected(
    base: torch.Tensor, root: bh.AnnotatedTensor, found: bh.AnnotatedTensor
) -> torch.Tensor:
    """What `found` says its tensor holds, taken from `base` (the tensor `root` names)."""
    sizes = root.sizes
    picked = elementary(base, root)
    kept: list[str] = []
    for name in reversed(root.dims):  # from the last axis, so that the others stay put
        axis = root.dims.index(name)
        if name in found.at:
            picked = picked.select(axis, found.at[name])
        elif name in found.sliced:  # positions range(start, stop, step): any order
            positions = torch.tensor(list(range(*found.sliced[name])), dtype=torch.long)
            picked = picked.index_select(axis, positions)
            kept.insert(0, name)
        elif name in found.dims:
            kept.insert(0, name)
        else:
            assert sizes[name] == 1, f"{name} (size {sizes[name]}) is neither kept nor placed"
            picked = picked.select(axis, 0)
    spread = broadcast_of(root, found)
    assert sorted(kept) == sorted(n for n in found.dims if n not in spread), (kept, found.pattern)
    if not found.axes.groups:
        return picked
    return einops.repeat(picked, f"{' '.join(kept)} -> {found.pattern}", **spread)


def broadcast_of(root: bh.AnnotatedTensor, found: bh.AnnotatedTensor) -> dict[str, int]:
    """The axes `found` names and `root` has not, with their sizes: new, broadcast axes."""
    return {name: found.sizes[name] for name in found.dims if name not in root.sizes}


def ids_like(base: torch.Tensor) -> torch.Tensor:
    """A float64 tensor of `base`'s geometry holding each element's storage index."""
    n = base.untyped_storage().nbytes() // base.element_size()
    storage = torch.arange(n, dtype=torch.float64)
    return storage.as_strided(base.shape, base.stride(), base.storage_offset())


def check(
    view: torch.Tensor,
    ids_view: torch.Tensor,
    base: torch.Tensor,
    ids_base: torch.Tensor,
    root: bh.AnnotatedTensor,
    found: bh.AnnotatedTensor,
) -> None:
    """`found` names `view` right: by its ids, and by its values."""
    assert found.axes.matches(view.shape), (found.pattern, found.sizes, tuple(view.shape))
    assert len(set(found.dims)) == len(found.dims), found.pattern
    assert not set(found.at) & set(found.dims), (found.at, found.pattern)
    for name, (start, stop, step) in found.sliced.items():
        positions = range(start, stop, step)
        assert len(positions) == found.sizes[name], (name, found.sliced)
        assert step, (name, found.sliced)
        assert all(0 <= p < root.sizes[name] for p in positions), (name, found.sliced)
    for name, position in found.at.items():
        assert 0 <= position < root.sizes[name], (name, found.at)
    for name in broadcast_of(root, found):  # says what it is, and that it repeats
        assert name.startswith("broadcast"), (name, found.pattern)
        assert any(note.startswith(f"{name}: expanded") for note in found.notes), found.notes
    assert torch.equal(expected(ids_base, root, found), ids_view), (found.pattern, found.at)
    assert torch.equal(expected(base, root, found), view), (found.pattern, found.at)


def _coordinates(
    ids_base: torch.Tensor, root: bh.AnnotatedTensor, ids_view: torch.Tensor
) -> dict[str, torch.Tensor]:
    """For each dim of size > 1, its position at each element of the view."""
    grid = elementary(ids_base, root).long()
    n = int(ids_base.untyped_storage().nbytes() // ids_base.element_size())
    found = {}
    for k, name in enumerate(root.dims):
        size = root.sizes[name]
        if size < 2:
            continue
        shape = [1] * grid.dim()
        shape[k] = size
        position = torch.arange(size).view(shape).expand(grid.shape)
        table = torch.full((n,), -1, dtype=torch.long)
        table[grid.flatten()] = position.flatten()
        found[name] = table[ids_view.long()]
    return found


def _is_progression(values: list[int]) -> bool:
    steps = {b - a for a, b in itertools.pairwise(values)}
    return len(steps) <= 1 and all(s > 0 for s in steps)


def nameable(ids_base: torch.Tensor, root: bh.AnnotatedTensor, ids_view: torch.Tensor) -> bool:
    """Whether named dims can describe `ids_view`, a view of `ids_base` (named `root`)."""
    if ids_view.numel() == 0:
        return False  # no element to name (names are given where the strides still tell)
    coords = _coordinates(ids_base, root, ids_view)
    owner: dict[str, int] = {}
    for axis, size in enumerate(ids_view.shape):
        if size < 2:
            continue
        first = [slice(None) if a == axis else 0 for a in range(ids_view.dim())]
        varying = []
        for name, c in coords.items():
            along = c[tuple(first)]
            shape = [1] * c.dim()
            shape[axis] = size
            if not torch.equal(c, along.view(shape).expand(c.shape)):
                return False  # depends on another axis too
            if along.unique().numel() > 1:
                varying.append((name, along.tolist()))
        if not varying:
            continue  # a broadcast axis: the same elements at each of its positions
        if any(name in owner for name, _ in varying):
            return False  # a dim split over two axes
        owner.update((name, axis) for name, _ in varying)
        # row-major: the dim that changes most often is innermost
        varying.sort(key=lambda nv: -sum(a != b for a, b in itertools.pairwise(nv[1])))
        values = [list(dict.fromkeys(v)) for _, v in reversed(varying)]  # outer to inner
        if not all(map(_is_progression, values)):
            return False
        product = [list(t) for t in itertools.product(*values)]
        if [list(t) for t in zip(*(v for _, v in reversed(varying)), strict=True)] != product:
            return False
    return True
