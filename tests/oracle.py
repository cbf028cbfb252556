"""An oracle for named dims, independent of the derivation: what the names say, rebuilt.

`expected(base, root, found)`: the tensor that `found`'s names describe, built from
the annotated tensor `base` (named `root`) with einops alone: unfuse `root` to its
elementary dims, take each dim at its position in `found.at` or its slice in
`found.sliced` (positions `range(start, stop, step)`, a reversed order included), and
rearrange to `found.pattern`, repeating the result along each axis `found` names but
`root` does not (a broadcast axis: the same elements at each of its positions). Rows
reordered along batch (`found.sequences`) are taken in that order, an unknown one (None)
as NaN, which matches any row. A derived annotation is right when this equals the view
it names.

`ids_like(base)`: a tensor of `base`'s geometry (shape, strides, storage offset) whose
every element holds its own storage index, so that a view of it taken the same way
holds, at each position, which element of `base` is there: no two positions agree by
chance (as padding zeros would).

`nameable(ids_base, root, ids_view)`: whether named dims can describe the view at all,
decided from the element coordinates (not strides): each axis of the view must run
over whole or sliced dims of its own, as a row-major product of arithmetic progressions,
or over none (a broadcast axis), and every other dim must stay at one position.

`check_labels(ids_view, ids_base, root, found, text)`: every label the names show is
what the ids hold: the places in `bh.describe`'s text (`sequence N`, `layer N`,
`forward`/`backward`, `token N`), the lengths, which sequence each batch row holds, and
the notes that name positions (`padding: sequence S has N tokens`, `rows i, j are
padding`, a direction or layer alone, the first or last token, slices, orders).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import einops
import torch

import bilstm_hooks as bh

DIRECTIONS = ("forward", "backward")


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
    sequences = sequences_of(found)
    for name in reversed(root.dims):  # from the last axis, so that the others stay put
        axis = root.dims.index(name)
        if name in found.at:
            picked = picked.select(axis, found.at[name])
        elif name == "batch" and sequences is not None:  # rows reordered, or picked
            picked = _rows(picked, axis, sequences)
            kept.insert(0, name)
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


def sequences_of(found: bh.AnnotatedTensor) -> tuple[int | None, ...] | None:
    """Which row of the origin each batch row holds, where the rows were reordered."""
    return getattr(found, "sequences", None)  # not an attribute before the reorder fix


def _rows(picked: torch.Tensor, axis: int, sequences: tuple[int | None, ...]) -> torch.Tensor:
    """The rows `sequences` of `picked` along `axis`; an unknown one (None) all NaN."""
    unknown = torch.full_like(picked.narrow(axis, 0, 1), float("nan"))
    rows = [picked.shape[axis] if s is None else s for s in sequences]
    index = torch.tensor(rows, dtype=torch.long)
    return torch.cat([picked, unknown], axis).index_select(axis, index)


def agrees(wanted: torch.Tensor, view: torch.Tensor) -> bool:
    """`wanted` equals `view` but where it is NaN (a row of unknown sequence)."""
    wanted = wanted.to(view.dtype)
    if wanted.shape != view.shape:
        return False
    return torch.equal(torch.where(wanted.isnan(), view, wanted), view)


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
    check_ids(ids_view, ids_base, root, found)
    assert agrees(expected(base, root, found), view), (found.pattern, found.at)


def check_ids(
    ids_view: torch.Tensor,
    ids_base: torch.Tensor,
    root: bh.AnnotatedTensor,
    found: bh.AnnotatedTensor,
) -> None:
    """`found` names right the elements of `ids_base` that `ids_view` holds."""
    shape = tuple(ids_view.shape)
    assert found.axes.matches(shape), (found.pattern, found.sizes, shape)
    assert len(set(found.dims)) == len(found.dims), found.pattern
    assert not set(found.at) & set(found.dims), (found.at, found.pattern)
    for name in (*found.at, *found.sliced):  # positions of the tensor `origin` names
        assert name in root.sizes, f"{name} is no dim of {root.pattern}: {found.at, found.sliced}"
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
    sequences = sequences_of(found)
    if sequences is not None:  # rows reordered: named by position, never by a slice
        assert "batch" in found.dims, (found.pattern, sequences)
        assert "batch" not in found.sliced, (found.sliced, sequences)
        assert len(sequences) == found.sizes["batch"], (sequences, found.sizes)
        assert all(s is None or 0 <= s < root.sizes["batch"] for s in sequences), sequences
    wanted = expected(ids_base, root, found)
    assert agrees(wanted, ids_view), _mismatch(ids_view, ids_base, root, found)


def _mismatch(
    ids_view: torch.Tensor,
    ids_base: torch.Tensor,
    root: bh.AnnotatedTensor,
    found: bh.AnnotatedTensor,
) -> str:
    """What the names say against what the ids hold, for a failure's message."""
    said = f"names say {found.pattern}, at {found.at}, sliced {found.sliced}"
    sequences = sequences_of(found)
    held = positions_held(ids_base, root, ids_view) if ids_view.numel() else {}
    if "batch" in found.dims and "batch" not in found.sliced and ids_view.numel():
        try:
            rows = rows_held(ids_base, root, ids_view, found)
        except AssertionError:
            rows = None
        if sequences is None:
            sequences = tuple(range(root.sizes["batch"]))
        said += f"; batch rows hold sequences {rows}, names say {list(sequences)}"
    return f"{said}; the ids hold positions {held}"


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


# -- the labels shown ---------------------------------------------------------------------------
def positions_held(
    ids_base: torch.Tensor, root: bh.AnnotatedTensor, ids_view: torch.Tensor
) -> dict[str, list[int]]:
    """For every dim of `root`, the positions of it that the elements of `ids_view` hold."""
    coords = _coordinates(ids_base, root, ids_view)
    return {n: sorted(set(coords[n].flatten().tolist())) if n in coords else [0] for n in root.dims}


def rows_held(
    ids_base: torch.Tensor,
    root: bh.AnnotatedTensor,
    ids_view: torch.Tensor,
    found: bh.AnnotatedTensor,
) -> list[int]:
    """The row of `root` that each position of `found`'s batch dim holds (one each)."""
    if root.sizes["batch"] < 2:
        return [0] * found.sizes["batch"]
    coords = _coordinates(ids_base, root, ids_view)["batch"]
    rest = " ".join(n for n in found.dims if n != "batch")
    by_row = einops.rearrange(coords, f"{found.pattern} -> batch ({rest})", **found.sizes)
    rows = [sorted(set(row.tolist())) for row in by_row]
    assert all(len(row) == 1 for row in rows), (found.pattern, rows)
    return [row[0] for row in rows]


_PADDING_ONE = re.compile(r"padding: sequence (\d+) has (\d+) tokens")
_PADDING_ROWS = re.compile(r"rows? (\d+(?:, \d+)*) (?:is|are) padding")
_ALONE = re.compile(r"(forward|backward) direction only")
_SLICE = re.compile(r"(\w+) (\d+):(\d+)(?::(\d+))?")
_ORDER = re.compile(r"(\w+) order: (.+) \(bh\.final_representation gives them in order\)")
_BATCH_ORDER = re.compile(r"batch order: sequences (.+)")


def _shown_positions(text: str, found: bh.AnnotatedTensor) -> dict[str, int]:
    """The places `describe`'s text shows: `encoder.h_n: layer 1, backward, sequence 2`."""
    where = text.split(" · ")[1]
    assert where.startswith(found.origin), (where, found.origin)
    shown = where[len(found.origin) :]
    if not shown:
        return {}
    assert shown.startswith(": "), text
    positions = {}
    for label in shown[2:].split(", "):
        if label in DIRECTIONS:
            positions["direction"] = DIRECTIONS.index(label)
        else:
            name, _, n = label.rpartition(" ")
            positions["batch" if name == "sequence" else name] = int(n)
    return positions


def check_labels(
    ids_view: torch.Tensor,
    ids_base: torch.Tensor,
    root: bh.AnnotatedTensor,
    found: bh.AnnotatedTensor,
    text: str,
) -> None:
    """Every label of `found` (and `text`, its `bh.describe`) is what `ids_view` holds."""
    held = positions_held(ids_base, root, ids_view)

    def only(name: str) -> int | None:
        return held[name][0] if name in held and len(held[name]) == 1 else None

    shown = _shown_positions(text, found)
    assert shown == found.at, (text, found.at)
    for name, position in shown.items():
        assert held[name] == [position], f"{text}: {name} {position}, holds {held[name]}"
    rows = rows_held(ids_base, root, ids_view, found) if "batch" in found.dims else None
    if found.lengths is not None:  # those of its rows (its one row, batch=1 squeezed away)
        assert root.lengths is not None, (text, found.lengths)
        held_rows = held["batch"] if rows is None else rows
        # along a token axis kept: each row's valid tokens among its positions (all of them:
        # its length); with token indexed away, the sequences' own lengths
        kept = held["token"] if "token" in found.dims else range(max(root.lengths, default=0))
        expected = tuple(sum(p < root.lengths[r] for p in kept) for r in held_rows)
        assert found.lengths == expected, (text, held_rows, kept)
    sequences = sequences_of(found)
    if sequences is not None:
        assert rows is not None
        assert all(s is None or s == r for s, r in zip(sequences, rows, strict=True)), rows
    for note in found.notes:
        _check_note(note, held, only, rows, root, text)


def _check_note(
    note: str,
    held: dict[str, list[int]],
    only: Callable[[str], int | None],
    rows: list[int] | None,
    root: bh.AnnotatedTensor,
    text: str,
) -> None:
    what = f"{text}: {note!r}, holds {held}, rows {rows}"
    lengths, tokens = root.lengths, root.sizes.get("token", 0)
    if m := _PADDING_ONE.fullmatch(note):
        sequence, count, token = int(m[1]), int(m[2]), only("token")
        assert sequence in held["batch"], what
        assert lengths is not None, what
        assert lengths[sequence] == count, what
        assert token is not None, what
        assert count <= token, what
    elif m := _PADDING_ROWS.fullmatch(note):
        token = only("token")
        assert lengths is not None, what
        assert rows is not None, what
        assert token is not None, what
        padding = [i for i, r in enumerate(rows) if lengths[r] <= token]
        assert [int(i) for i in m[1].split(", ")] == padding, what
    elif m := _ALONE.fullmatch(note):
        assert held["direction"] == [DIRECTIONS.index(m[1])], what
    elif note == "first layer":
        assert held["layer"] == [0], what
    elif note == "both directions":
        assert held["direction"] == [0, 1], what
    elif note.startswith("the last token: "):
        assert held["token"] == [tokens - 1], what
    elif note.startswith("token 0: "):
        assert held["token"] == [0], what
    elif m := _SLICE.fullmatch(note):
        positions = list(range(int(m[2]), int(m[3]), int(m[4] or 1)))
        assert held[m[1]] == positions, what
        assert m[1] != "batch" or rows == positions, what
    elif m := _ORDER.fullmatch(note):
        listed = [DIRECTIONS.index(p) if p in DIRECTIONS else int(p) for p in m[2].split(", ")]
        assert held[m[1]] == sorted(listed), what
        assert m[1] != "batch" or rows == listed, what
    elif m := _BATCH_ORDER.fullmatch(note):
        listed = [int(p) if p.isdigit() else None for p in m[1].split(", ")]
        assert rows is not None, what
        assert len(listed) == len(rows), what
        assert all(s is None or s == r for s, r in zip(listed, rows, strict=True)), what
