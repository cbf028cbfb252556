"""Chains of followed ops, checked element by element: which sequence, layer, direction
and token a tensor holds, against what its names and `bh.describe` say.

Hypothesis draws a point of the layout matrix, calls the hooked layer (a packed call's
`out` padded by `pad_packed_sequence` under follow) and takes `out`, `h_n` or `c_n` as
the root. A tensor of element ids of the root's shape (`ids[i]` is element `i` of the
root, row-major) gets the root's names from the registry, and the drawn chain runs on
it under `bh.follow()`: basic indexing, view methods, copies, `cat`/`stack` of rows,
and batch reorders (a tensor or a list index, with repeats, `index_select`, `gather`
of whole rows, a mask, a sort and its undoing). After each op the ids say which element
of the root sits where, and the names must say the same (`oracle.check_ids`), as must
every label shown (`oracle.check_labels`): `sequence N` is the origin's row N, the one
the row holds, wherever it now sits. An op may drop the names (no rule, never a guess);
a wrong name fails. An elementwise op that changes values ends a chain, its names
checked against the ids of its input.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import event, given, settings
from hypothesis import strategies as st
from oracle import check_ids, check_labels
from test_views import index_views, method_views
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry

Op = Callable[[torch.Tensor], torch.Tensor]
Step = tuple[str, Op]


@contextlib.contextmanager
def following() -> Iterator[None]:
    """`bh.follow()`; its layout warnings (`out[:, -1]`, ...) are not the point here."""
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("ignore", bh.LayoutWarning)
        yield


def followed(op: Op, tensor: torch.Tensor) -> torch.Tensor:
    with following():
        return op(tensor)


def names(tensor: torch.Tensor) -> bh.AnnotatedTensor:
    found = bh.annotation_of(tensor)
    assert found is not None, "unnamed"
    return found


# -- the root: a layer's tensor, and ids of its shape with its names -------------------------
def root_ids(data: st.DataObject, case: Any) -> tuple[torch.Tensor, bh.AnnotatedTensor, str]:
    """`(ids, names, what)`: ids of the shape of a drawn tensor of `case`, named as it is."""
    cfg = case.cfg
    tensors = {"h_n": case.h_n} if case.c_n is None else {"h_n": case.h_n, "c_n": case.c_n}
    tensors["out"] = case.out
    if cfg.packed:
        batch_first = data.draw(st.booleans(), label="padded batch_first")
        with bh.follow():
            tensors["out"], _ = pad_packed_sequence(case.out, batch_first=batch_first)
    role = data.draw(st.sampled_from(sorted(tensors)), label="role")
    base = tensors[role]
    found = _registry.find(base)
    assert found is not None, (cfg.id, role)
    ids = torch.arange(base.numel(), dtype=torch.float64).view(base.shape)
    _registry.tag(ids, found[0])  # the library's own names of the root
    root, named = names(ids), names(base)
    assert (root.pattern, root.lengths) == (named.pattern, named.lengths)
    assert (root.at, root.sliced) == ({}, {})
    if cfg.packed and role == "out":
        assert root.lengths == cfg.lengths
    return ids, root, f"{cfg.id} {role}"


# -- drawing ops ------------------------------------------------------------------------------
COPIES: tuple[Step, ...] = (
    (".contiguous()", lambda t: t.contiguous()),
    (".clone()", lambda t: t.clone()),
    ("torch.clone()", torch.clone),
    (".detach()", lambda t: t.detach()),
    (".to(torch.float64)", lambda t: t.to(torch.float64)),
    (".to(torch.float64, copy=True)", lambda t: t.to(torch.float64, copy=True)),
    (".float()", lambda t: t.float()),  # ids stay exact: fewer than 2**24 of them
    (".double()", lambda t: t.double()),
)
FINAL: tuple[Step, ...] = (  # elementwise, values changed: names checked, not ids
    ("relu", torch.relu),
    ("+ 1", lambda t: t + 1),
    ("* 2", lambda t: 2 * t),
    ("tanh", lambda t: t.tanh()),
    ("F.dropout(eval)", lambda t: F.dropout(t, 0.5, training=False)),
)


@st.composite
def joins(draw: st.DrawFn, shape: tuple[int, ...]) -> list[Step]:
    """`cat` or `stack` of positions along one axis: `torch.cat([h[-2], h[-1]], -1)`."""
    axes = [a for a, size in enumerate(shape) if size >= 2]
    stack = draw(st.booleans()) or len(shape) < 2
    if not axes:
        return []
    axis = draw(st.sampled_from(axes))
    size, n = shape[axis], len(shape) - (not stack)
    count = draw(st.integers(2, min(size, 3)))
    picks = draw(
        st.lists(
            st.integers(-size, size - 1),
            min_size=count,
            max_size=count,
            unique_by=lambda p: p % size,
        )
    )
    dim, join = draw(st.integers(-n, n - 1)), torch.stack if stack else torch.cat
    text = f"torch.{join.__name__}([{', '.join(f't.select({axis}, {p})' for p in picks)}], {dim})"
    return [(text, lambda t: join([t.select(axis, p) for p in picks], dim))]


def _along(axis: int, n: int, index: Any, shown: str, ellipsis: bool) -> tuple[Any, str]:
    """`[:, :, index]`, or `[..., index, :]` with the same meaning (`[index]` along 0), and
    its text."""
    if ellipsis:
        items, texts = (Ellipsis, index, *[slice(None)] * (n - 1 - axis)), ["...", shown]
        return items, f"[{', '.join(texts + [':'] * (n - 1 - axis))}]"
    return ((*[slice(None)] * axis, index) if axis else index), f"[{':, ' * axis}{shown}]"


@st.composite
def reorders(draw: st.DrawFn, shape: tuple[int, ...], axis: int, keys: Any) -> list[Step]:
    """Rows taken along `axis` (batch, or any other): in a drawn order, with repeats, some of
    them, by a mask, or sorted by `keys` (the lengths, where known) and unsorted again."""
    size, n = shape[axis], len(shape)
    perm = draw(
        st.permutations(range(size))
        | st.lists(st.integers(-size, size - 1), min_size=1, max_size=size + 1)
    )
    rows = torch.tensor([p % size for p in perm])
    how = draw(st.sampled_from(["tensor", "list", "index_select", "gather", "mask", "sort"]))
    ellipsis = draw(st.booleans())
    if how in ("tensor", "list"):
        given = torch.tensor(perm) if how == "tensor" else list(perm)
        index, text = _along(axis, n, given, f"{how} {perm}", ellipsis)
        return [(text, lambda t: t[index])]
    if how == "index_select":
        if draw(st.booleans()):
            return [
                (f".index_select({axis}, {rows.tolist()})", lambda t: t.index_select(axis, rows))
            ]
        return [
            (
                f"torch.index_select(t, {axis}, {rows.tolist()})",
                lambda t: torch.index_select(t, axis, rows),
            )
        ]
    if how == "gather":  # whole rows: the index is the same along every other axis
        grown = [len(rows) if a == axis else s for a, s in enumerate(shape)]
        index_t = rows.view([-1 if a == axis else 1 for a in range(n)]).expand(grown)
        return [(f".gather({axis}, rows {rows.tolist()})", lambda t: t.gather(axis, index_t))]
    if how == "mask":
        mask = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        index, text = _along(axis, n, torch.tensor(mask), f"mask {mask}", ellipsis)
        return [(text, lambda t: t[index])]
    if keys is None or len(keys) != size:
        keys = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
    order = torch.argsort(torch.tensor(keys), descending=draw(st.booleans()), stable=True)
    back, text = _along(axis, n, order.argsort(), "the inverse order", ellipsis)
    return [
        (f".index_select({axis}, argsort({keys}))", lambda t: t.index_select(axis, order)),
        (text, lambda t: t[back]),
    ]


def batch_axis(found: bh.AnnotatedTensor) -> int | None:
    groups = found.axes.groups
    return groups.index(("batch",)) if ("batch",) in groups else None


@st.composite
def ops(
    draw: st.DrawFn, tensor: torch.Tensor, found: bh.AnnotatedTensor, batch: bool
) -> list[Step]:
    """One op (a sort and its undoing: two) on `tensor`; along batch only when `batch`."""
    shape = tuple(tensor.shape)
    kinds = ["index", "index", "method", "method", "copy", "join", "reorder", "reorder"]
    kinds = kinds if batch else kinds[:-1]  # a reorder along another axis drops the names
    kind = draw(st.sampled_from(kinds))
    if kind == "index":
        return [draw(index_views(shape))]
    if kind == "method":
        text, op = draw(method_views(shape))
        return [(text if text.startswith("[") else f".{text}", op)]
    if kind == "copy":
        return [draw(st.sampled_from(COPIES))]
    if kind == "join":
        return draw(joins(shape))
    on_batch = batch_axis(found)
    axes = [a for a in range(len(shape)) if shape[a] and (batch or a != on_batch)]
    if not axes:
        return []
    axis = draw(st.sampled_from(axes))
    return draw(reorders(shape, axis, found.lengths if axis == on_batch else None))


# -- the chain --------------------------------------------------------------------------------
def check_names(
    result: torch.Tensor, ids: torch.Tensor, ids_root: torch.Tensor, root: Any, what: str
) -> bool:
    """The names of `result` (if any) are those of the root elements `ids` holds; whether
    it had names."""
    found = bh.annotation_of(result)
    if found is None:
        return False
    text = bh.describe(result)
    try:
        check_ids(ids, ids_root, root, found)
        if ids.numel():
            check_labels(ids, ids_root, root, found, text)
    except AssertionError as exc:
        raise AssertionError(f"{what}\n  {text}\n  {exc}") from None
    return True


def follow_chain(
    data: st.DataObject,
    ids: torch.Tensor,
    root: bh.AnnotatedTensor,
    what: str,
    *,
    reorder_at: int | None = None,
    most: int = 6,
) -> None:
    """Draw up to `most` ops in a chain, checking the names after each; from step
    `reorder_at` on (when given), the first op that can is a reorder along batch."""
    current, reordered, named = ids, reorder_at is None, 0
    least = min(most, 3 if reorder_at is None else reorder_at + 2)  # prefixes are checked too
    for i in range(data.draw(st.sampled_from(range(least, most + 1)), label="ops")):
        found = bh.annotation_of(current)
        if found is None or not current.numel():
            break
        axis = batch_axis(found)
        if not reordered and i >= reorder_at and axis is not None:  # type: ignore[operator]
            steps = data.draw(reorders(tuple(current.shape), axis, found.lengths), label="reorder")
            reordered = True
            event("batch reordered")
        else:
            steps = data.draw(ops(current, found, reorder_at is not None), label="op")
        for text, op in steps:
            try:
                result = followed(op, current)
            except (RuntimeError, IndexError):
                break  # not possible on this shape: the chain goes on without it
            what += text
            if not check_names(result, result, ids, root, what):
                event(f"names kept through {named} ops")
                return
            current, named = result, named + 1
    event(f"names kept through {named} ops")
    found = bh.annotation_of(current)
    if found is not None and current.numel() and data.draw(st.booleans(), label="final"):
        text, op = data.draw(st.sampled_from(FINAL), label="final op")
        check_names(followed(op, current), current, ids, root, f"{what} then {text}")


@settings(max_examples=200, report_multiple_bugs=False)
@given(data=st.data())
def test_chains_without_batch_reorders_name_every_element_right(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    cfg = data.draw(config_strategy, label="config")
    ids, root, what = root_ids(data, run(cfg))
    follow_chain(data, ids, root, what)


@settings(max_examples=200, report_multiple_bugs=False)
@given(data=st.data())
def test_chains_with_batch_reorders_name_every_element_right(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    """Rows reordered or picked along batch: each row is named by the sequence it holds."""
    cfg = data.draw(config_strategy.filter(lambda c: c.batched and c.batch >= 2), label="config")
    ids, root, what = root_ids(data, run(cfg))
    follow_chain(data, ids, root, what, reorder_at=data.draw(st.integers(0, 2), label="reorder at"))


# -- the probe's cases, spelled out -----------------------------------------------------------
@pytest.fixture
def encoder() -> tuple[torch.Tensor, torch.Tensor]:
    """`(out, h_n)` of a hooked two-layer bidirectional LSTM (batch first), 3 sequences."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    out, (h_n, _) = lstm(torch.randn(3, 6, 3))
    return out, h_n


@pytest.fixture
def padded() -> torch.Tensor:
    """The padded `out` (batch first) of a packed bidirectional call, lengths (4, 6, 2)."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    x = torch.randn(3, 6, 3)
    out, _ = lstm(pack_padded_sequence(x, [4, 6, 2], batch_first=True, enforce_sorted=False))
    with bh.follow():
        padded, _ = pad_packed_sequence(out, batch_first=True)
    return padded


PICKED = {
    "out[torch.tensor([1, 0])][0]": lambda out, h_n: out[torch.tensor([1, 0])][0],
    "out[[0, 1, 1]][2]": lambda out, h_n: out[[0, 1, 1]][2],
    "h_n[:, [1, 0]][:, 0]": lambda out, h_n: h_n[:, [1, 0]][:, 0],
    "out.index_select(0, [1, 0])[0]": lambda out, h_n: out.index_select(0, torch.tensor([1, 0]))[0],
    "out[mask][0]": lambda out, h_n: out[torch.tensor([False, True, True])][0],
}


@pytest.mark.parametrize("pick", PICKED.values(), ids=list(PICKED))
def test_a_row_taken_after_a_batch_reorder_is_the_sequence_it_holds(
    encoder: Any, pick: Any
) -> None:
    out, h_n = encoder
    with following():
        row = pick(out, h_n)
    assert torch.equal(row, out[1] if row.shape == out[1].shape else h_n[:, 1])
    assert names(row).at["batch"] == 1
    assert "sequence 1" in bh.describe(row)


def test_a_reordered_tensor_says_which_sequence_each_row_holds(encoder: Any) -> None:
    out, h_n = encoder
    with following():
        rows = out[[2, 0, 0]]
        columns = h_n[:, torch.tensor([1, 2])]
    found = names(rows)
    assert (found.pattern, found.sequences, found.sliced) == (
        "batch token (direction hidden)",
        (2, 0, 0),
        {},
    )
    assert "batch order: sequences 2, 0, 0" in found.notes
    assert names(rows[1:]).sequences == (0, 0)
    assert names(columns).sequences == (1, 2)
    assert names(columns[-1]).sequences == (1, 2)
    assert names(out[1:]).sequences is None  # a slice: in `.sliced`, as before


def test_padding_notes_name_the_sequence_a_reordered_row_holds(padded: torch.Tensor) -> None:
    with following():
        rows = padded[torch.tensor([2, 0, 1])]  # lengths (2, 4, 6)
        first, at_token = rows[0, 3], rows[:, 3]
    assert names(rows).lengths == (2, 4, 6)
    assert names(first).at == {"batch": 2, "token": 3}
    assert "padding: sequence 2 has 2 tokens" in bh.describe(first)
    assert "row 0 is padding" in names(at_token).notes


def test_sorting_by_length_then_unsorting_gives_the_rows_back_in_order(
    padded: torch.Tensor,
) -> None:
    with following():
        order = torch.argsort(torch.tensor([4, 6, 2]), descending=True)
        by_length = padded[order]
        back = by_length[order.argsort()]
    assert names(by_length).sequences == (1, 0, 2)
    assert names(by_length[0]).at["batch"] == 1
    assert (names(back).sequences, names(back).lengths) == (None, (4, 6, 2))
    assert names(back[1]).at["batch"] == 1


# -- other wrong labels the chains found, without reorders --------------------------------------
def test_a_followed_detach_of_an_expanded_tensor_has_its_views_named(encoder: Any) -> None:
    """`detach()` keeps the stride 0 of the broadcast axis: `describe` of a view of it
    raised ZeroDivisionError (in `_derive._chain`)."""
    _, h_n = encoder
    expanded = h_n.expand(3, *h_n.shape)
    with following():
        detached = expanded.detach()
    for view in (lambda t: t[0], lambda t: t[:, -1], lambda t: t[1:], lambda t: t.squeeze(1)):
        found = bh.annotation_of(view(detached))
        assert found is None or found.pattern == names(view(expanded)).pattern
        bh.describe(view(detached))


def test_a_copy_of_an_expanded_tensor_shows_no_position_along_the_broadcast(
    encoder: Any,
) -> None:
    """The broadcast axis is no dim of `h_n`: `copy[0]` said `<LSTM>.h_n: broadcast 0`."""
    _, h_n = encoder
    with following():
        copy = h_n.expand(3, *h_n.shape).contiguous()
    assert names(copy[0]).at == {}
    assert "broadcast" not in bh.describe(copy[0])
    assert "broadcast" not in names(copy[1:]).sliced


def test_one_direction_of_the_final_representation_is_not_both_directions(
    encoder: Any,
) -> None:
    """`torch.cat([h_n[-2], h_n[-1]], -1)[:, :4]` said `forward` and `both directions`."""
    _, h_n = encoder
    with following():
        final = torch.cat([h_n[-2], h_n[-1]], -1)
    forward = names(final[:, :4])
    assert forward.at == {"layer": 1, "direction": 0}
    assert "both directions" not in forward.notes


def test_views_of_a_followed_copy_renumber_its_padding_rows(padded: torch.Tensor) -> None:
    """`padded[:, 4].clone()[1:]` kept `rows 0, 2 are padding` (its rows are sequences 1, 2:
    row 1 is padding), and its row 1 (sequence 1, 6 tokens) said so too."""
    copy = followed(lambda p: p[:, 4].clone(), padded)
    view = padded[:, 4]
    assert names(copy[1:]).notes == names(view[1:]).notes == ("row 1 is padding", "batch 1:3")
    assert names(copy[1]).notes == names(view[1]).notes == ()


def test_tokens_joined_say_no_padding_rows_of_one_token(padded: torch.Tensor) -> None:
    """Tokens 3 and 4 joined said `row 2 is padding` (at token 4, rows 0 and 2 are);
    tokens 3 and 1 said so too (at token 1, none is)."""
    with following():
        stacked = torch.stack([padded[:, 3], padded[:, 4]], 1)
        joined = torch.cat([padded[:, 3], padded[:, 1]], -1)
    for found in (names(stacked), names(joined)):
        assert not [note for note in found.notes if "padding" in note], found.notes
