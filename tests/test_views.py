"""Views of annotated tensors are named when read: checked against the values.

Hypothesis draws a point of the layout matrix and a chain of views of `out`, `h_n`
or `c_n` (indexing with ints, slices with steps, `...` and None; select, narrow,
unbind, chunk, split, transpose, permute, movedim, .T, .mT, view, reshape, flatten,
unflatten, squeeze, unsqueeze, detach, expand). The names derived for the view are
checked by `oracle.expected` on the values and on a tensor of element ids of the
same geometry; `oracle.nameable` decides, from element coordinates, whether any
names could describe the view, and annotation_of must then give them.

A broadcast axis (`expand` of a size-1 or a new axis) repeats the same elements: no
dim of the base names it (`token=6` would say six tokens), so it is `broadcast`
(`broadcast2`, ... for more), with a note saying so; the ids prove that its
positions really are one and the same element.

The views no names can describe (annotation_of gives None), all tested below:
- a slice of a fused axis across its inner boundary: `out[..., 2:6]` of
  `(direction=2 hidden=4)` holds the end of one direction and the start of the
  other; `h_n[1:3]` the backward half of layer 0 and the forward half of layer 1;
- a dim split over two axes: `out.unflatten(1, (2, 3))` of 6 tokens (no names for
  halves of `token`), and the wrong split `out.view(b, t, hidden, 2)`.
A copy (`reshape` where no view exists) is no view: it is named only while
following (`test_follow.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, ids_like, nameable
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

View = tuple[str, Callable[[torch.Tensor], torch.Tensor]]


# -- drawing views ---------------------------------------------------------------------------
def _index_item(draw: st.DrawFn, size: int) -> Any:
    kind = draw(st.sampled_from(["all", "int", "slice", "slice", "none"]))
    if kind == "int" and size:
        return draw(st.integers(-size, size - 1))
    if kind == "slice":
        start = draw(st.none() | st.integers(-size - 1, size + 1))
        stop = draw(st.none() | st.integers(-size - 1, size + 1))
        return slice(start, stop, draw(st.none() | st.integers(1, 3)))
    if kind == "none":
        return None
    return slice(None)


@st.composite
def index_views(draw: st.DrawFn, shape: tuple[int, ...]) -> View:
    """A basic index: ints (negative too), slices with steps, `...`, None."""
    n = draw(st.integers(0, len(shape)))
    items: list[Any] = []
    dims = list(shape[:n])
    for size in dims:
        item = _index_item(draw, size)
        if item is None:
            items.append(None)
            item = _index_item(draw, size) if draw(st.booleans()) else slice(None)
            if item is None:
                item = slice(None)
        items.append(item)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    index = tuple(items)
    return f"[{_show(index)}]", lambda t: t[index]


def _show(index: tuple[Any, ...]) -> str:
    def one(item: Any) -> str:
        if item is Ellipsis:
            return "..."
        if isinstance(item, slice):
            bits = [str(v) if v is not None else "" for v in (item.start, item.stop, item.step)]
            return ":".join(bits).rstrip(":") or ":"
        return repr(item)

    return ", ".join(map(one, index))


def _factor_pairs(size: int) -> list[tuple[int, int]]:
    return [(a, size // a) for a in range(1, size + 1) if size % a == 0]


@st.composite
def method_views(draw: st.DrawFn, shape: tuple[int, ...]) -> View:
    """One of the view methods, with arguments that fit `shape`."""
    n = len(shape)
    options = ["detach", "unsqueeze", "squeeze", "expand"]
    if n:
        options += ["select", "narrow", "unbind", "chunk", "split", "movedim", "flatten"]
        options += ["unflatten", "view", "reshape", "squeeze_dim"]
    if n >= 2:
        options += ["transpose", "permute", "mT"]
    if n == 2:
        options += ["T"]
    op = draw(st.sampled_from(options))
    dim = draw(st.integers(-n, n - 1)) if n else 0
    size = shape[dim] if n else 1
    if op == "detach":
        return "detach()", lambda t: t.detach()
    if op == "unsqueeze":
        at = draw(st.integers(-n - 1, n))
        return f"unsqueeze({at})", lambda t: t.unsqueeze(at)
    if op == "squeeze":
        return "squeeze()", lambda t: t.squeeze()
    if op == "squeeze_dim":
        return f"squeeze({dim})", lambda t: t.squeeze(dim)
    if op == "expand":
        return draw(expand_views(shape))
    if op == "select" and size:
        i = draw(st.integers(-size, size - 1))
        return f"select({dim}, {i})", lambda t: t.select(dim, i)
    if op == "narrow":
        start = draw(st.integers(0, size))
        length = draw(st.integers(0, size - start))
        return f"narrow({dim}, {start}, {length})", lambda t: t.narrow(dim, start, length)
    if op == "unbind" and size:
        i = draw(st.integers(0, size - 1))
        return f"unbind({dim})[{i}]", lambda t: t.unbind(dim)[i]
    if op in ("chunk", "split") and size:
        k = draw(st.integers(1, size))
        parts = len(torch.empty(size).chunk(k)) if op == "chunk" else -(-size // k)
        i = draw(st.integers(0, parts - 1))
        if op == "chunk":
            return f"chunk({k}, {dim})[{i}]", lambda t: t.chunk(k, dim)[i]
        return f"split({k}, {dim})[{i}]", lambda t: t.split(k, dim)[i]
    if op == "movedim":
        to = draw(st.integers(-n, n - 1))
        return f"movedim({dim}, {to})", lambda t: t.movedim(dim, to)
    if op == "flatten":
        end = draw(st.integers(dim % n, n - 1))
        return f"flatten({dim % n}, {end})", lambda t: t.flatten(dim % n, end)
    if op == "unflatten" and size:
        a, b = draw(st.sampled_from(_factor_pairs(size)))
        return f"unflatten({dim}, ({a}, {b}))", lambda t: t.unflatten(dim, (a, b))
    if op in ("view", "reshape"):  # a reshape that copies ends the chain: no view
        target = draw(st.sampled_from(_view_targets(shape)))
        if op == "view":
            return f"view{target}", lambda t: t.view(target)
        return f"reshape{target}", lambda t: t.reshape(target)
    if op == "transpose":
        other = draw(st.integers(-n, n - 1))
        return f"transpose({dim}, {other})", lambda t: t.transpose(dim, other)
    if op == "permute":
        order = tuple(draw(st.permutations(range(n))))
        return f"permute{order}", lambda t: t.permute(order)
    if op == "mT":
        return "mT", lambda t: t.mT
    if op == "T":
        return "T", lambda t: t.T
    return "detach()", lambda t: t.detach()


@st.composite
def expand_views(draw: st.DrawFn, shape: tuple[int, ...]) -> View:
    """`expand` to the same shape, with a new leading axis, or along a size-1 axis (one
    of `shape`'s, or a new one: `h_n[-1].unsqueeze(1).expand(B, T, H)`)."""
    n = len(shape)
    ones = [i for i, s in enumerate(shape) if s == 1]
    how = draw(st.sampled_from(["same", "lead", "new"] + ["one"] * bool(ones)))
    k = draw(st.integers(2, 4))
    if how == "same":
        return "expand(same)", lambda t: t.expand(t.shape)
    if how == "lead":
        return f"expand({k}, ...)", lambda t: t.expand(k, *t.shape)
    if how == "new":
        at = draw(st.integers(0, n))
        grown = tuple(k if i == at else -1 for i in range(n + 1))
        return f"unsqueeze({at}).expand{grown}", lambda t: t.unsqueeze(at).expand(grown)
    axis = draw(st.sampled_from(ones))
    grown = tuple(k if i == axis else -1 for i in range(n))
    return f"expand{grown}", lambda t: t.expand(grown)


def _view_targets(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes to view `shape` as: merged neighbours, a split, the whole flattened."""
    targets = [tuple(shape), (-1,)]
    for i in range(len(shape) - 1):
        targets.append((*shape[:i], shape[i] * shape[i + 1], *shape[i + 2 :]))
    for i, size in enumerate(shape):
        for a, b in _factor_pairs(size):
            targets.append((*shape[:i], a, b, *shape[i + 1 :]))
    return targets


def views(shape: tuple[int, ...]) -> st.SearchStrategy[View]:
    return index_views(shape) | method_views(shape)


# -- the tensors viewed ----------------------------------------------------------------------
def annotated_tensors(case: Any) -> dict[str, torch.Tensor]:
    """`out` (the record's padded one for packed input), `h_n`, `c_n` of one call."""
    out = case.record.out.tensor if case.cfg.packed else case.out
    found = {"out": out, "h_n": case.h_n}
    if case.c_n is not None:
        found["c_n"] = case.c_n
    return found


def shares(view: torch.Tensor, base: torch.Tensor) -> bool:
    return (
        view.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
        and view.dtype == base.dtype
    )


def check_view(
    base: torch.Tensor,
    ids_base: torch.Tensor,
    view: torch.Tensor,
    ids_view: torch.Tensor,
    what: str,
) -> bh.AnnotatedTensor | None:
    """The names of `view` are right; None only where no names could describe it."""
    root = bh.annotation_of(base)
    assert root is not None, what
    assert (root.at, root.sliced) == ({}, {}), what
    found = bh.annotation_of(view)
    if found is None:
        assert not nameable(ids_base, root, ids_view), f"{what}: nameable, but unnamed"
        return None
    check(view, ids_view, base, ids_base, root, found)
    return found


def draw_chain(
    data: st.DataObject, base: torch.Tensor, what: str, most: int = 4, expand_at: int = -1
) -> None:
    """Draw up to `most` views in a chain, checking the names after each; the view at
    step `expand_at` (when there is one) is an `expand`."""
    ids_base = ids_like(base)
    view, ids_view = base, ids_base
    for i in range(data.draw(st.integers(max(1, expand_at + 1), most), label="steps")):
        drawn = expand_views if i == expand_at else views
        text, step = data.draw(drawn(tuple(view.shape)), label="view")
        try:
            view, ids_view = step(view), step(ids_view)
        except (RuntimeError, IndexError):  # not viewable, say: the chain goes on without it
            continue
        if not shares(view, base):
            return
        assert view.shape == ids_view.shape
        assert view.stride() == ids_view.stride()
        assert view.storage_offset() == ids_view.storage_offset()
        what += text if text.startswith("[") else f".{text}"
        check_view(base, ids_base, view, ids_view, what)
        if not view.numel():
            return  # no element left to name


@settings(max_examples=200)
@given(data=st.data())
def test_drawn_views_are_named_right_across_the_matrix(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    cfg = data.draw(config_strategy, label="config")
    tensors = annotated_tensors(run(cfg))
    role = data.draw(st.sampled_from(sorted(tensors)), label="role")
    draw_chain(data, tensors[role], f"{cfg.id} {role}")


@settings(max_examples=150)
@given(data=st.data())
def test_drawn_views_with_an_expand_are_named_right(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    """An expand somewhere in the chain: the broadcast axis, then indexed, sliced, moved,
    flattened, expanded again; the ids show its positions are one element each."""
    cfg = data.draw(config_strategy, label="config")
    tensors = annotated_tensors(run(cfg))
    role = data.draw(st.sampled_from(sorted(tensors)), label="role")
    expand_at = data.draw(st.integers(0, 2), label="expand at")
    draw_chain(data, tensors[role], f"{cfg.id} {role}", expand_at=expand_at)


@settings(max_examples=150)
@given(data=st.data())
def test_indexing_an_annotated_tensor_composes_with_its_slices(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    """`rec[x].out[i][j]` and `.isel(...)`: positions are those of the record's tensor."""
    cfg = data.draw(config_strategy, label="config")
    record = run(cfg).record
    roles = {"out": record.out, "h_n": record.h_n}
    root = roles[data.draw(st.sampled_from(sorted(roles)), label="role")]
    ids_root = bh.AnnotatedTensor(ids_like(root.tensor), root.axes, root.origin)
    current, ids = root, ids_root
    for _ in range(data.draw(st.integers(1, 3), label="steps")):
        if isinstance(current, bh.AnnotatedTensor) and current.dims and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(current.dims), label="isel")
            size = current.sizes[name]
            position = data.draw(st.integers(-size, size - 1), label="position") if size else 0
            if not size:
                return
            current, ids = current.isel(**{name: position}), ids.isel(**{name: position})
        else:
            _text, step = data.draw(index_views(tuple(current.shape)), label="index")
            try:
                current, ids = step(current), step(ids)  # type: ignore[arg-type]
            except IndexError:
                continue
        if not isinstance(current, bh.AnnotatedTensor):
            return  # a copy (a tensor index): a plain tensor
        assert isinstance(ids, bh.AnnotatedTensor)
        if not current.tensor.numel():
            return  # no element left to name
        check(current.tensor, ids.tensor, root.tensor, ids_root.tensor, root, current)
        plain = bh.annotation_of(current.tensor)
        if plain is not None and current.tensor.numel():  # the same, as a plain view
            check(current.tensor, ids.tensor, root.tensor, ids_root.tensor, root, plain)
            assert _positions(plain, root) == _positions(current, root)


def _positions(found: bh.AnnotatedTensor, root: bh.AnnotatedTensor) -> tuple[Any, ...]:
    """`at` and `sliced` of the dims of size > 1 (those of size 1 may go either way)."""
    at = {k: v for k, v in found.at.items() if root.sizes[k] > 1}
    return at, {k: v for k, v in found.sliced.items() if root.sizes[k] > 1}


# -- the layout matrix, with the views users write ------------------------------------------
def _token_axis(cfg: Any) -> int:
    return 1 if cfg.batch_first and cfg.batched else 0


OUT_VIEWS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "last token": lambda t, c: t.select(_token_axis(c), -1),
    "first token": lambda t, c: t.select(_token_axis(c), 0),
    "forward half": lambda t, c: t[..., : c.h_out],
    "backward half": lambda t, c: t[..., c.h_out :],
    "last token, forward half": lambda t, c: t.select(_token_axis(c), -1)[..., : c.h_out],
    "tokens 1:": lambda t, c: t.narrow(_token_axis(c), 1, t.shape[_token_axis(c)] - 1),
    "every other token": lambda t, c: t[::2] if _token_axis(c) == 0 else t[:, ::2],
    "transposed": lambda t, c: t.transpose(0, 1) if t.dim() > 2 else t.T,
    "mT": lambda t, c: t.mT,
    "None in front": lambda t, c: t[None],
    "None behind": lambda t, c: t[..., None],
    "directions unfused": lambda t, c: t.unflatten(-1, (c.directions, c.h_out)),
    "chunk of a direction": lambda t, c: t.chunk(c.directions, -1)[-1],
    "unbind tokens": lambda t, c: t.unbind(_token_axis(c))[0],
    "detach": lambda t, c: t.detach(),
    "every other unit": lambda t, c: t[..., ::2],
}
H_N_VIEWS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "h_n[-1]": lambda t, c: t[-1],
    "h_n[0]": lambda t, c: t[0],
    "h_n[-2:]": lambda t, c: t[-2:],
    "h_n[-4:]": lambda t, c: t[-4:],
    "the last layer": lambda t, c: t[-c.directions :],
    "all but the first layer": lambda t, c: t[c.directions :],
    "layers unfused": lambda t, c: t.view(c.layers, c.directions, *t.shape[1:]),
    "last layer unfused": lambda t, c: t.view(c.layers, c.directions, *t.shape[1:])[-1],
    "batch first": lambda t, c: t.transpose(0, 1),
    "movedim": lambda t, c: t.movedim(0, -1),
    "h_n[-1, 0]": lambda t, c: t[-1, 0],
    "squeeze": lambda t, c: t.squeeze(),
    "unsqueeze": lambda t, c: t.unsqueeze(1),
}


def test_the_views_users_write_are_named_right_across_the_matrix(
    layout_matrix: list[Any], run: Any
) -> None:
    for cfg in layout_matrix:
        case = run(cfg)
        for role, base in annotated_tensors(case).items():
            ids = ids_like(base)
            for name, make in (OUT_VIEWS if role == "out" else H_N_VIEWS).items():
                view = make(base, cfg)
                what = f"{cfg.id} {role}: {name}"
                found = check_view(base, ids, view, make(ids, cfg), what)
                assert found is not None, what


# -- what cannot be named -------------------------------------------------------------------
UNNAMEABLE: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "out[..., 2:6]: across the directions": lambda out, h_n: out[..., 2:6],
    "h_n[1:3]: across the layers": lambda out, h_n: h_n[1:3],
    "tokens split in two": lambda out, h_n: out.unflatten(1, (2, 3)),
    "(direction hidden) split the wrong way": lambda out, h_n: out.view(3, 6, 4, 2),
    "expanded, then split across the directions": lambda out, h_n: out.expand(2, 3, 6, 8)[..., 2:6],
}


@pytest.mark.parametrize("make", UNNAMEABLE.values(), ids=list(UNNAMEABLE))
def test_views_no_names_describe_are_unnamed(make: Any) -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    out, (h_n, _) = lstm(torch.randn(3, 6, 3))
    view = make(out, h_n)
    assert bh.annotation_of(view) is None
    base = out if shares(view, out) else h_n
    root = bh.annotation_of(base)
    assert root is not None
    assert not nameable(ids_like(base), root, make(ids_like(out), ids_like(h_n)))


def test_an_expand_that_repeats_nothing_keeps_the_names(seq_lstm: nn.LSTM) -> None:
    bh.attach_hooks(seq_lstm)
    out, _ = seq_lstm(torch.randn(3, 6, 3))
    found = bh.annotation_of(out.expand(3, 6, 8))
    assert found is not None
    assert found.pattern == "batch token (direction hidden)"


# -- names of the axes of size 1 --------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda out, h_n: out[None], "() batch token (direction hidden)"),
        (lambda out, h_n: out[..., None], "batch token (direction hidden) ()"),
        (lambda out, h_n: out[:, :, None], "batch token () (direction hidden)"),
        (lambda out, h_n: out.transpose(0, 1), "token batch (direction hidden)"),
        (lambda out, h_n: h_n[-1], "batch hidden"),
        (lambda out, h_n: h_n.squeeze(0), "batch hidden"),
        (lambda out, h_n: h_n[None], "() (layer direction) batch hidden"),
        (lambda out, h_n: h_n[..., None], "(layer direction) batch hidden ()"),
    ],
    ids=["out[None]", "out[..., None]", "out[:, :, None]", "out.T01", "h_n[-1]", "squeeze",
         "h_n[None]", "h_n[..., None]"],
)  # fmt: skip
def test_axes_of_size_1_keep_their_place(make: Any, pattern: str) -> None:
    """A batch of one through a one-layer unidirectional GRU: every size is 1 but two.

    Where the geometry cannot tell (`h_n.permute(1, 0, 2)` has h_n's own shape and
    strides here) the names are those of the tensor, which are as right."""
    gru = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(gru)
    out, h_n = gru(torch.randn(1, 5, 3))
    found = bh.annotation_of(make(out, h_n))
    assert found is not None
    assert found.pattern == pattern


@pytest.mark.parametrize(
    ("make", "pattern", "at"),
    [
        (lambda h_n: h_n[0][:1], "() hidden", {"batch": 0}),
        (lambda h_n: h_n[0, 1:2], "() hidden", {"batch": 1}),
        (lambda h_n: h_n[:, :1], "(layer direction) () hidden", {"batch": 0}),
    ],
    ids=["h_n[0][:1]", "h_n[0, 1:2]", "h_n[:, :1]"],
)
def test_one_sequence_sliced_from_a_one_row_state_is_not_named_as_its_rows(
    make: Any, pattern: str, at: dict[str, int]
) -> None:
    """A one-layer unidirectional h_n: its `(layer direction)` axis is of size 1, as the
    slice of one sequence is; the slot of that slice has batch's stride, not the rows'."""
    lstm = nn.LSTM(4, 3, batch_first=True)
    bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(3, 5, 4))
    found = bh.annotation_of(make(h_n))
    assert found is not None
    assert (found.pattern, found.at) == (pattern, at)
    assert torch.equal(found.tensor.reshape(-1), h_n[0, at["batch"]])  # it holds that sequence


def test_a_new_axis_of_size_1_is_not_taken_for_one_squeezed_away() -> None:
    """Bahdanau attention: `Va(...)` is `batch token feature=1`; squeezed, then unsqueezed."""
    gru = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(gru)
    keys, _ = gru(torch.randn(2, 5, 3))
    with bh.follow():
        scores = nn.Linear(4, 1)(keys)
    found = bh.annotation_of(scores.squeeze(2).unsqueeze(1))
    assert found is not None
    assert found.pattern == "batch () token"
    assert bh.annotation_of(scores.squeeze(2).unsqueeze(2)).pattern == "batch token feature"  # type: ignore[union-attr]


# -- views of views, and of AnnotatedTensors --------------------------------------------------
@pytest.fixture
def encoder() -> tuple[bh.Record, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(3, 6, 3))
    return rec["encoder"], out, h_n


def test_positions_are_those_of_the_original_through_views_of_views(encoder: Any) -> None:
    record, out, _ = encoder
    for view in (record.out[:, ::2][:, 1], out[:, ::2][:, 1], record.out[:, 1:][:, ::2][:, 1]):
        found = bh.annotation_of(view)
        assert found is not None
        assert found.at == {"token": 2} or found.at == {"token": 3}
    assert record.out[:, ::2][:, 1].at == {"token": 2}
    assert record.out[:, 1:][:, ::2][:, 1].at == {"token": 3}
    tail = record.out[:, 2:]
    assert tail.sliced == {"token": (2, 6, 1)}
    assert tail.notes == ("token 2:6",)
    last = tail[:, -1]
    assert last.at == {"token": 5}
    assert not last.sliced
    assert last.notes == ("the last token: its backward half has read only this token",)
    both = record.out[:, 1:5][:, ::2]
    assert both.sliced == {"token": (1, 4, 2)}
    assert both.notes == ("token 1:4:2",)
    assert torch.equal(both.tensor, out[:, 1:5:2])


def test_indexing_returns_an_annotated_tensor_with_derived_names(encoder: Any) -> None:
    record, _out, h_n = encoder
    last = record.h_n[-1]
    assert isinstance(last, bh.AnnotatedTensor)
    assert (last.pattern, last.at, last.notes) == (
        "batch hidden",
        {"layer": 1, "direction": 1},
        ("backward direction only",),
    )
    assert torch.equal(last.tensor, h_n[-1])
    assert record.h_n[0].notes == ("forward direction only", "first layer")
    assert isinstance(record.out[[0, 2]], torch.Tensor)  # a copy: a plain tensor


def test_isel_selects_by_name(encoder: Any) -> None:
    record, out, h_n = encoder
    backward = record.h_n.isel(layer=-1, direction="backward")
    assert torch.equal(backward.tensor, h_n[3])
    assert backward.at == {"layer": 1, "direction": 1}
    assert backward.notes == ("backward direction only",)
    forward = record.out.isel(direction="forward", token=-1)
    assert torch.equal(forward.tensor, out[:, -1, :4])
    assert forward.at == {"direction": 0, "token": 5}
    again = record.out[:, 1::2].isel(token=1)  # positions of the original
    assert again.at == {"token": 3}
    assert torch.equal(again.tensor, out[:, 3])


@pytest.mark.parametrize(
    ("positions", "error", "message"),
    [
        ({"width": 0}, KeyError, r"cannot select 'width': expected one of layer, direction, "
         r"batch, hidden \(\(layer=2 direction=2\) batch=3 hidden=4\)"),
        ({"layer": 2}, IndexError, r"^expected layer in \[-2, 1\], got 2$"),
        ({"direction": -3}, IndexError, r"^expected direction in \[-2, 1\], got -3$"),
        ({"direction": "sideways"}, TypeError,
         r"^expected direction as an int position or 'forward'/'backward', got 'sideways'$"),
        ({"batch": True}, TypeError, r"^expected batch as an int position, got True$"),
    ],
    ids=["unknown", "past-the-end", "before-the-start", "unknown-direction", "bool"],
)  # fmt: skip
def test_isel_errors(encoder: Any, positions: dict[str, Any], error: type, message: str) -> None:
    record, *_ = encoder
    with pytest.raises(error, match=message):
        record.h_n.isel(**positions)


def test_isel_of_a_dim_already_taken(encoder: Any) -> None:
    record, *_ = encoder
    with pytest.raises(KeyError, match=r"cannot select 'layer': expected one of direction, batch"):
        record.h_n.isel(layer=0).isel(layer=0)


def test_torch_functions_take_an_annotated_tensor(encoder: Any) -> None:
    record, out, h_n = encoder
    a, b = record.h_n[-2], record.h_n[-1]
    assert torch.equal(torch.cat([a, b], -1), torch.cat([h_n[-2], h_n[-1]], -1))
    assert torch.equal(torch.relu(record.out), torch.relu(out))
    weight = torch.randn(5, 8)
    assert torch.equal(torch.nn.functional.linear(record.out, weight), out @ weight.T)
    assert torch.equal(torch.stack([a, b]), h_n[2:])
    assert torch.equal(record.out.tensor.sum(), out.sum())


# -- notes ------------------------------------------------------------------------------------
def test_padded_rows_are_noted() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    packed = pack_padded_sequence(
        torch.randn(3, 5, 3), [2, 5, 4], batch_first=True, enforce_sorted=False
    )
    out, _ = lstm(packed)
    with bh.follow():
        padded, _ = pad_packed_sequence(out, batch_first=True)
    found = bh.annotation_of(padded)
    assert found is not None
    assert found.lengths == (2, 5, 4)
    assert bh.annotation_of(padded[:, 3]).notes == ("row 0 is padding",)  # type: ignore[union-attr]
    assert bh.annotation_of(padded[:, 4]).notes == (  # type: ignore[union-attr]
        "the last token: its backward half has read only this token",
        "rows 0, 2 are padding",
    )
    assert bh.annotation_of(padded[0, 3]).notes == ("padding: sequence 0 has 2 tokens",)  # type: ignore[union-attr]
    rows = bh.annotation_of(padded[1:])
    assert rows is not None
    assert rows.lengths == (5, 4)
    assert rows.notes == ("batch 1:3",)
    assert bh.annotation_of(padded[1:, 4]).notes[1:] == ("row 1 is padding", "batch 1:3")  # type: ignore[union-attr]
    assert bh.annotation_of(padded[:, 1]).notes == ()  # type: ignore[union-attr]


def test_a_detached_view_of_an_inference_tensor_is_named_after_ids_are_reused(
    make_config: Any, run: Any
) -> None:
    """Views of inference tensors have no `_base`: found by storage, every time."""
    cfg = make_config(kind="GRU", grad_mode="inference_mode", bidirectional=True)
    for _ in range(40):
        case = run(cfg)
        assert bh.annotation_of(case.out.detach()[1:]) is not None
        assert bh.annotation_of(case.h_n.squeeze()) is not None


@pytest.mark.parametrize("shared", ["yes", 0, None])
def test_annotation_of_takes_shared_as_a_bool_only(encoder: Any, shared: Any) -> None:
    with pytest.raises(
        TypeError, match=rf"^expected shared as a bool, got {re.escape(repr(shared))}$"
    ):
        bh.annotation_of(encoder[2], shared=shared)
