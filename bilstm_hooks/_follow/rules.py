"""What happens to the names under each torch op, while following: one table, one rule per op.

A rule takes the call (`func`, `args`, `kwargs`, its `result`) and the names of
its tensor arguments, and returns the names of the result, or None: unknown, so
the result is left unnamed (never guessed). Views need no rule: they are named
when read (`_core.lookup`). The misuse checks sit beside the rule of the op they
watch (`_follow.misuse`), and warn at the user's line.

    >>> from bilstm_hooks._follow.rules import RULES
    >>> import torch
    >>> RULES[torch.cat].__name__
    'cat_rule'
"""

from __future__ import annotations

from typing import Any

import torch

from .._core.annotated import named_from
from .._names.broadcast import keeps_broadcast
from .._names.layout import Axes
from . import misuse, misuse_rows
from .batch_rows import batch_index, gathered_rows, reordered
from .cell_joins import cell_steps_joined
from .feature_joins import features_joined, steps_joined
from .joins import calls_joined
from .packed_rows import pack_names, padded_names
from .products import bmm_rule
from .rule_parts import RULES, Rule
from .rule_parts import arg as _arg
from .rule_parts import as_named as _as_named
from .rule_parts import axis_of as _axis
from .rule_parts import copied as _copied
from .rule_parts import names_of as names_of
from .rule_parts import register as _register
from .rule_parts import tag as _tag
from .unit_slices import name_unit_slices

__all__ = ["RULES", "Rule", "bmm_rule", "names_of", "same_rule"]

# -- copies and elementwise ops: the names of the input of the same shape ---------------
_SAME = (
    # copies
    "contiguous", "clone", "detach", "to", "float", "double", "half", "bfloat16", "cpu",
    "cuda", "type_as",
    # activations, dropout, normalisation over the last axis
    "dropout", "alpha_dropout", "relu", "relu_", "gelu", "tanh", "sigmoid", "elu",
    "leaky_relu", "selu", "silu", "softplus", "hardtanh", "softmax", "log_softmax",
    "layer_norm", "normalize",
    # arithmetic with scalars or broadcast tensors, masking
    "add", "sub", "mul", "div", "true_divide", "neg", "abs", "exp", "log", "pow", "sqrt",
    "rsqrt", "square", "sign", "clamp", "clip", "masked_fill", "where", "__add__", "__radd__",
    "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__neg__",
    "__pow__", "__rpow__", "__abs__",
    # in place: the names are read before the op changes the tensor (`_follow.inplace`)
    "add_", "sub_", "mul_", "div_", "masked_fill_", "clamp_", "tanh_", "sigmoid_", "dropout_",
    "__iadd__", "__isub__", "__imul__", "__itruediv__",
)  # fmt: skip


@_register(*_SAME)
def same_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """The names of the annotated operands of the result's shape, where they agree.

    Operands at different positions of a dim (`out[..., :H] + out[..., H:]`, both
    directions summed) keep their axes, not the position; operands of different
    tensors, or of different slices, give no names; nor does an op that makes a
    `broadcast` axis differ along it (`expanded + noise`, dropout in training).
    """
    if not isinstance(result, torch.Tensor):
        return
    shaped = [
        n
        for n in map(names_of, (*args, *kwargs.values()))
        if n is not None and n.shape == result.shape
    ]
    if not shaped:
        return
    first = shaped[0]
    if func.__name__ in ("add", "__add__", "__radd__"):
        misuse_rows.check_mixed_rows(shaped, "added")
    if any(
        (n.axes, n.origin, n.sliced, n.sequences)
        != (first.axes, first.origin, first.sliced, first.sequences)
        for n in shaped
    ) or not keeps_broadcast(first.axes.groups, func, args, kwargs, shaped):
        return  # or a `broadcast` axis no longer the same along (`expanded + noise`)
    at = {k: v for k, v in first.at.items() if all(n.at.get(k) == v for n in shaped)}
    notes = tuple(note for note in first.notes if all(note in n.notes for n in shaped))
    lengths = named_from(first).lengths
    if any(named_from(n).lengths != lengths for n in shaped):
        lengths = None
    _tag(result, _as_named(first, at=tuple(at.items()), notes=notes, lengths=lengths))


# -- packed sequences --------------------------------------------------------------------
@_register("_pad_packed_sequence", sources=(torch, torch._VF))
def pad_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Packed rows padded (a layer's packed output, or rows followed since): `batch token ...`."""
    data, batch_first = args[0], bool(_arg(args, kwargs, 2, "batch_first"))
    padded, lengths = result
    named = padded_names(data, batch_first, padded)
    if named is not None:
        known = tuple(lengths.tolist()) if lengths.device.type == "cpu" else None
        _tag(padded, named._replace(lengths=known))


@_register("_pack_padded_sequence", sources=(torch, torch._VF))
def pack_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """A named padded tensor packed: its data rows are `packed ...` (`_follow.packed_rows`)."""
    source = names_of(args[0]) if args else None
    if source is not None and isinstance(result, tuple) and result:
        named = pack_names(source, bool(_arg(args, kwargs, 2, "batch_first")), result[0])
        if named is not None:
            _tag(result[0], named)


@_register("index_select", "gather")
def batch_order_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Along `batch` (sorting, unsorting): the same names, lengths reordered."""
    source = names_of(args[0]) if args else None
    if source is None or not isinstance(result, torch.Tensor):
        return
    axis = _axis(source, _arg(args, kwargs, 1, "dim"))
    index = _arg(args, kwargs, 2, "index")
    if axis is None or not isinstance(index, torch.Tensor):
        return
    if func.__name__ == "gather":
        index = gathered_rows(index, axis)
        if index is None:  # each element from its own row: no batch of sequences any more
            return
    reordered(source, axis, index, result)


# -- joining parts -------------------------------------------------------------------------
@_register("cat", "concat", "concatenate", "stack")
def cat_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Views of one tensor in one position each (`cat([h_n[-2], h_n[-1]], -1)`) join into
    that dim (`misuse.joined`, which warns for directions along batch); equally named
    parts of different tensors (a decoder's steps) along `batch` or `token` keep their
    names (`_follow.joins.calls_joined`); all the parts of one `unbind` in order fuse
    the unbound group into the joined axis (`_follow.misuse_rows.unbound_joined`), and
    two rows of h_n of different layers and directions warn; a loop's parts stacked get
    a `step` axis, and parts side by side on the last axis a `feature` axis
    (`_follow.feature_joins`). Anything else: unknown."""
    parts = _arg(args, kwargs, 0, "tensors")
    if not isinstance(parts, list | tuple) or not parts:
        return
    found = list(map(names_of, parts))
    named = [n for n in found if n is not None]
    dim, stack = _arg(args, kwargs, 1, "dim") or 0, func.__name__ == "stack"
    joined = None
    if len(named) == len(parts):
        joined = misuse_rows.unbound_joined(parts, named, dim, stack=stack)
        if joined is None and len(parts) < 2:
            return
        if joined is None:
            joined = misuse.joined(named, dim, stack=stack)
        if joined is None:
            misuse_rows.check_mixed_rows(named, "joined")
        if joined is None:
            joined = calls_joined(named, dim, stack=stack)
        if joined is None:
            joined = cell_steps_joined(named, dim, stack=stack)
        if joined is None:
            joined = steps_joined(named, dim, stack=stack)
    tensors = all(isinstance(p, torch.Tensor) for p in parts)
    if joined is None and not stack and len(parts) > 1 and tensors:
        joined = features_joined(found, parts, dim)
    if joined is not None:
        _tag(result, joined)


@_register("unbind")
def unbind_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """The parts are views (named when read); remembered for `cat(unbind(h_n), -1)`."""
    source = names_of(args[0]) if args else None
    if source is not None and isinstance(result, tuple):
        misuse_rows.unbound(source, _arg(args, kwargs, 1, "dim") or 0, result)


# -- reductions over a named axis ----------------------------------------------------------
@_register("sum", "mean", "amax", "amin", "max", "min", "logsumexp", "norm", "std", "var", "prod")
def reduce_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Over one axis, or several (`dim=(0, 1)`): the other axes keep their names."""
    source = names_of(args[0]) if args else None
    if source is None:
        return
    dim = _arg(args, kwargs, 1, "dim")
    if func.__name__ == "norm":
        dim = kwargs.get("dim", args[2] if len(args) > 2 else None)
    given = tuple(dim) if isinstance(dim, list | tuple) else (dim,)
    found = [_axis(source, d) for d in given]
    reduced = {axis for axis in found if axis is not None}
    if not given or len(reduced) < len(set(found)) or None in found:
        return
    names = [n for g in sorted(reduced) for n in source.axes.groups[g]]
    for name in names:
        misuse.check_reduction(source, name, func.__name__)
    keep = bool(kwargs.get("keepdim", False))
    groups = tuple(
        (() if keep else None) if g in reduced else group
        for g, group in enumerate(source.axes.groups)
    )
    kept = tuple(g for g in groups if g is not None)
    axes = Axes.of(kept, source.sizes)
    lengths = None if {"batch", "token"} & set(names) else named_from(source).lengths
    over = " ".join(names) if len(names) == 1 else f"({' '.join(names)})"
    origin = f"{source.origin}, {func.__name__} over {over}"
    values = result.values if hasattr(result, "values") and not callable(result.values) else result
    _tag(values, _as_named(source, axes, origin=origin, lengths=lengths))


# -- a Linear head: the leading axes keep their names ----------------------------------------
@_register("linear")
def linear_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    source = names_of(args[0]) if args else None
    if source is None or not isinstance(result, torch.Tensor) or not source.axes.groups:
        return
    lead = source.axes.groups[:-1]
    groups = (*lead, ("feature",))
    sizes = {**source.sizes, "feature": result.shape[-1]}
    axes = Axes.of(groups, sizes)
    _tag(result, _as_named(source, axes, origin=f"{source.origin}, through a Linear layer"))


# -- views: named when read; the follow mode only watches them ---------------------------
@_register("__getitem__", "view", "reshape", "flatten", "unflatten", "view_as", "reshape_as")
def view_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    source = names_of(args[0]) if args else None
    if source is None or not isinstance(result, torch.Tensor):
        return
    if func.__name__ == "__getitem__":
        index = args[1] if len(args) > 1 else None
        if _copied(result, source):  # `out[:, order]` along batch keeps the names
            rows = batch_index(len(source.axes.groups), index)
            if rows is not None:
                reordered(source, rows[0], rows[1], result)
            return
        misuse.check_index(source, index, result)
        misuse_rows.check_time_major_last(source, index)
        name_unit_slices(source, index, result)
        return
    if misuse_rows.check_layer_major(source, tuple(result.shape)):
        return
    named = misuse.reshaped(source, tuple(result.shape))
    if named is not None and _copied(result, source):  # a copy needs its own tag
        _tag(result, named)


# -- appended rules (each tested in tests/test_rules_extra.py) ------------------------------
@_register("batch_norm", "instance_norm", "group_norm")
def norm_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Normalisation per channel (a sequence-wise BatchNorm1d over `(token batch) hidden`,
    say) keeps the shape and the layout: the names of the input, as `same_rule`."""
    same_rule(func, args, kwargs, result)
