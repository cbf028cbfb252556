"""The classic layout bugs, caught at the line that makes them (while following).

Each check sits beside the rule of the op it watches (`_follow.rules`) and warns with
`bh.LayoutWarning` at the user's line: what happened, to which module's tensor,
and the fix. Only what is known to be wrong warns; correct forms stay silent:
`cat([h_n[-2], h_n[-1]], -1)`, `out[:, -1, :H]` on unpadded input,
`h_n.transpose(0, 1).reshape(B, -1)`, and the library's own helpers.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from .._base.callers import callers_level
from .._base.errors import LayoutWarning
from .._core.annotated import AnnotatedTensor, named_from, view_of
from .._names.derive import Derived, Underivable, derive
from .._names.geometry import logical
from .._names.layout import Axes
from .._names.named import Named
from .._names.notes import is_padding_note, kept_lengths, slice_note
from . import held
from .rule_parts import full_sizes, joined_axis, storages

__all__ = ["check_index", "check_reduction", "joined", "reshaped", "warn"]


def warn(message: str) -> None:
    """A LayoutWarning at the user's line."""
    warnings.warn(message, LayoutWarning, stacklevel=callers_level())


def _who(source: AnnotatedTensor) -> str:
    return f"{source.origin} ({source.axes.described()})" if source.origin else source.pattern


# -- view, reshape ---------------------------------------------------------------------------
def reshaped(source: AnnotatedTensor, shape: tuple[int, ...]) -> Named | None:
    """The names of `source` reshaped to `shape`, or None; warns when the reshape mixes
    `batch` with another dim in one axis, or splits `(direction hidden)` the wrong way."""
    found = _reshape(source.axes, tuple(source.shape), shape)
    if isinstance(found, Derived):
        mixed = _features_of_sequences(found.axes)
        if mixed:
            _warn_mixed(source, shape, mixed)
        kept = set(found.axes.dims)
        return named_from(
            source,
            found.axes,
            at=tuple({**source.at, **found.at}.items()),
            sliced=tuple((n, *w) for n, w in source.sliced.items() if n in kept),
            full=tuple((n, v) for n, v in named_from(source).full if n in kept),
        )
    mixes = [n for n in found.mixes if n != "batch"]
    if _regroups_rows(source, shape):
        return None  # the layer's batch was the caller's own (batch skip): unnamed, not warned
    if "batch" in found.mixes and source.sizes.get("batch", 1) > 1:
        _warn_mixed(source, shape, tuple(mixes))
    elif _split_backwards(source, shape) or (
        {"direction", "hidden"} <= set(mixes) and "token" not in mixes
    ):
        size = source.sizes
        warn(
            f"{_who(source)} viewed as {shape} splits (direction hidden) the wrong way round: "
            "the last axis holds the forward half, then the backward half. View it as "
            f"(..., {size['direction']}, {size['hidden']}), or use bh.split_directions"
        )
    return None


@functools.lru_cache(maxsize=1024)
def _reshape(axes: Axes, source: tuple[int, ...], shape: tuple[int, ...]) -> Derived | Underivable:
    return derive(axes, logical(source), logical(shape))


def _split_backwards(source: AnnotatedTensor, shape: tuple[int, ...]) -> bool:
    """`out.view(b, t, hidden, 2)`: the last axis, `(direction hidden)`, split as (hidden, 2)."""
    groups, size = source.axes.groups, source.sizes
    if not groups or groups[-1] != ("direction", "hidden") or len(shape) < 2:
        return False
    lead, rest = math.prod(source.shape[:-1]), math.prod(shape[:-2])
    return tuple(shape[-2:]) == (size["hidden"], size["direction"]) and rest == lead


def _regroups_rows(source: AnnotatedTensor, shape: tuple[int, ...]) -> bool:
    """`h.view(b1, -1)` where the layer's batch `b1 * b2` leads (nothing of size > 1 before
    it): rows of b2 consecutive sequences, as when the caller fused `(batch skip)` into the
    layer's batch (LSTNet's skip GRU). Not known to be wrong, so not warned."""
    groups = source.axes.groups
    if ("batch",) not in groups:
        return False
    axis = groups.index(("batch",))
    rows, after = source.shape[axis], math.prod(source.shape[axis + 1 :])
    kept = [n for n in shape if n != 1]
    if math.prod(source.shape[:axis]) != 1 or len(kept) < 2:
        return False
    outer = kept[0]
    return 1 < outer < rows and rows % outer == 0 and math.prod(kept[1:]) == rows // outer * after


def _features_of_sequences(axes: Axes) -> tuple[str, ...]:
    """The dims `batch` is fused with in the last axis (the one a Linear layer reads):
    `direction (batch hidden)`, `layer (direction batch)`. Rows of tokens, `(batch
    token) (direction hidden)`, or of units, `(batch hidden) token`, are fine."""
    size = axes.size_of
    longer = [g for g in axes.groups if any(size[n] > 1 for n in g)]
    if len(longer) < 2 or size.get("batch", 1) < 2 or "batch" not in longer[-1]:
        return ()
    return tuple(n for n in longer[-1] if n != "batch" and size[n] > 1)


def _warn_mixed(source: AnnotatedTensor, shape: tuple[int, ...], mixes: tuple[str, ...]) -> None:
    if "layer" in source.sizes:  # h_n, c_n
        what, fix = (
            "(layer direction)",
            "Use h_n.transpose(0, 1).reshape(batch, -1), or "
            "bh.final_representation(h_n, module=...)",
        )
    elif "token" in mixes:
        what, fix = "token", "Is it time-major? Take out.transpose(0, 1) first"
    else:
        what, fix = " ".join(mixes) or "itself", "Keep batch as an axis of its own"
    warn(
        f"{_who(source)} viewed as {shape} mixes batch with {what}: each row now holds "
        f"parts of several sequences. {fix}"
    )


# -- indexing --------------------------------------------------------------------------------
def check_index(source: AnnotatedTensor, index: Any, result: torch.Tensor) -> None:
    """`out[:, -1]` of a bidirectional output with both halves, or of a padded one."""
    view = view_of(source, result)
    if view is None:
        return
    token = view.at.get("token") if "token" not in source.at else None
    if token is None:
        return
    size = full_sizes(source)
    if size.get("direction") == 2 and "direction" in view.sizes and token == size["token"] - 1:
        held.hold(  # warned where used: a tagger joins it with token 0 on purpose (`held`)
            result,
            f"{_who(source)} at its last token, both halves, used here: the backward half "
            "there has read one token, the forward half may be padding. The final state "
            "is torch.cat([h_n[-2], h_n[-1]], -1), or bh.last_outputs(out, lengths, "
            "module=...); both ends on purpose: torch.cat([out[:, -1], out[:, 0]], -1)",
            source.origin,
        )
        return
    lengths = view.lengths  # the sequences', as `token` is: in the positions `origin` names
    if lengths is not None and "batch" in view.sizes:
        rows = [b for b, n in enumerate(lengths) if n <= token]
        if rows:
            listed = ", ".join(map(str, rows))
            start, _, step = source.sliced.get("token", (0, 0, 1))
            kept = kept_lengths(lengths, source.sliced.get("token"))
            where = f"token {(token - start) // step}"
            if "token" in source.sliced:
                where += f" (token {token} before the slice)"
            warn(
                f"{_who(source)} at {where}: batch rows {listed} are padding there "
                f"(lengths {list(kept or lengths)}). Take each sequence's last valid token "
                "(lengths - 1) with bh.last_outputs(out, lengths, module=...)"
            )


# -- reductions -------------------------------------------------------------------------------
def check_reduction(source: AnnotatedTensor, name: str, op: str) -> None:
    """A reduction over the `token` axis of a padded output with unequal lengths that the
    padding changes: checked on the values, so that a sum over zero padding, or a max over
    padding set to -inf first (`masked_fill`, `where`), stays silent. The lengths are those
    along the tokens kept (`out[:, ::2]`), so a slice within every sequence is silent."""
    lengths = source.lengths
    if name != "token" or lengths is None or len(set(lengths)) < 2:
        return
    if op in _EXCLUDING and not _padding_changes(source, op, lengths):
        return
    warn(
        f"{op} over token of {_who(source)}, padded with unequal lengths "
        f"{list(lengths)}: the padding is in it. {_advice(op)}"
    )


def _advice(op: str) -> str:
    """The fix for `op` over padded tokens: what the padding must hold for it."""
    fill = _EXCLUDING.get(op)
    if op == "mean":
        return (
            "Divide the sum over valid tokens by the lengths: "
            "(out * mask[..., None]).sum(1) / lengths[:, None]"
        )
    if op == "sum":
        return "Zero the padding first: (out * mask[..., None]).sum(1)"
    if fill in (float("-inf"), float("inf")):  # max, amax, logsumexp; min, amin
        shown, value = ("-inf", "-inf") if fill < 0 else ("+inf", "inf")
        fix = f"out.masked_fill(~mask[..., None], float('{value}'))"
        return f"Set the padding to {shown} first: {fix}"
    return "Reduce over the valid tokens only (mask the padding first)"


# each reduction, and the value that padding must hold to leave it unchanged
_EXCLUDING: dict[str, float] = {"sum": 0.0, "prod": 1.0, "min": math.inf, "amin": math.inf}
_EXCLUDING.update(dict.fromkeys(("max", "amax", "logsumexp"), -math.inf))


def _padding_changes(source: AnnotatedTensor, op: str, lengths: tuple[int, ...]) -> bool:
    """Whether `op` over token gives another value than over the valid tokens alone; True
    where that cannot be told (token or batch fused with another dim)."""
    groups = source.axes.groups
    if ("token",) not in groups or ("batch",) not in groups:
        return True
    token, batch = groups.index(("token",)), groups.index(("batch",))
    values = source.tensor
    positions = torch.arange(values.shape[token], device=values.device)  # `lengths` counts them
    limit = torch.tensor(lengths, device=values.device)
    valid = positions[None, :] < limit[:, None]  # batch, token
    if batch > token:
        valid = valid.T
    shape = [1] * values.dim()
    shape[min(batch, token)], shape[max(batch, token)] = valid.shape
    valid = valid.reshape(shape)
    with torch.no_grad():
        fill = torch.full((), _EXCLUDING[op], dtype=values.dtype, device=values.device)
        reduce = getattr(torch, op)
        wanted = reduce(torch.where(valid, values, fill), token)
        got = reduce(values, token)
    if isinstance(got, tuple):  # max, min: (values, indices)
        got, wanted = got[0], wanted[0]
    return not torch.allclose(got, wanted, equal_nan=True)


# -- cat, stack --------------------------------------------------------------------------------
def joined(parts: Sequence[AnnotatedTensor], dim: int, *, stack: bool) -> Named | None:
    """The names of parts joined along `dim`: views of one tensor that differ only in
    one position indexed away (`direction` of `h_n[-2]`, `h_n[-1]`) join into that dim
    again, its positions in the order given (a reversed order is a step of -1)."""
    first = parts[0]
    if any(
        (p.axes, p.origin, p.sliced, p.sequences)
        != (first.axes, first.origin, first.sliced, first.sequences)
        for p in parts
    ):
        return None
    if storages(parts) != 1:
        return None  # parts of different tensors (two calls, say)
    differing = [k for k in first.at if any(p.at.get(k) != first.at[k] for p in parts)]
    if len(differing) != 1 or any(set(p.at) != set(first.at) for p in parts):
        return None
    name = differing[0]
    order = [p.at[name] for p in parts]
    step = order[1] - order[0]
    if not step or any(b - a != step for a, b in itertools.pairwise(order)):
        return None  # repeated, or in no order a range gives
    groups = list(first.axes.groups)
    axis = joined_axis(len(groups), dim, stack=stack)
    if axis is None:
        return None
    if stack:
        groups.insert(axis, (name,))
    else:
        inner = groups[axis]
        if name == "direction" and "batch" in inner and first.sizes["batch"] > 1:
            warn(
                f"directions of {first.origin} joined along the batch axis: rows of "
                "different directions now sit where sequences should. Join them on the "
                "last axis: torch.cat([h_n[-2], h_n[-1]], -1)"
            )
        groups[axis] = (name, *inner)
    size = full_sizes(first).get(name, max(order) + 1)
    sliced = dict(first.sliced)
    if order != list(range(size)):
        sliced[name] = (order[0], order[-1] + (1 if step > 0 else -1), step)
    at = {k: v for k, v in first.at.items() if k != name}
    notes = tuple(
        note
        for note in first.notes
        if name not in note
        and "only" not in note
        and not (name in ("batch", "token") and is_padding_note(note))  # of one row or token
    )
    if step < 0:
        notes += (slice_note(name, *sliced[name]),)
    elif name == "direction":
        notes += ("both directions",)
    sizes = {**first.sizes, name: len(parts)}
    axes = Axes.of(groups, sizes)
    return named_from(
        first,
        axes,
        at=tuple(at.items()),
        notes=notes,
        sliced=tuple((k, *w) for k, w in sliced.items()),
        full=tuple({**dict(named_from(first).full), name: size}.items()),
    )
