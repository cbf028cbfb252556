"""What happens to the names under each torch op, while following: one table, one rule per op.

A rule takes the call (`func`, `args`, `kwargs`, its `result`) and the names of
its tensor arguments, and returns the names of the result, or None: unknown, so
the result is left unnamed (never guessed). Views need no rule: they are named
when read (`_identity`). The misuse checks sit beside the rule of the op they
watch (`_misuse`), and warn at the user's line.

    >>> from bilstm_hooks._rules import RULES
    >>> import torch
    >>> RULES[torch.cat].__name__
    'cat_rule'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from . import _misuse, _registry
from ._annotated import AnnotatedTensor
from ._layout import Axes
from ._registry import Named

__all__ = ["RULES", "Rule", "names_of"]

Rule = Callable[[Any, tuple[Any, ...], dict[str, Any], Any], None]
RULES: dict[Any, Rule] = {}


def names_of(value: Any) -> AnnotatedTensor | None:
    """The names of a tensor argument (no storage scan: cheap enough for every op)."""
    from ._identity import annotation_of

    if isinstance(value, AnnotatedTensor):
        return value
    if not isinstance(value, torch.Tensor):
        return None
    return annotation_of(value, shared=False)


def _as_named(annotated: AnnotatedTensor, axes: Axes | None = None, **changes: Any) -> Named:
    named = Named(
        annotated.axes if axes is None else axes,
        annotated.origin,
        tuple(annotated.at.items()),
        annotated.notes,
        annotated.lengths,
    )
    return named._replace(**changes) if changes else named


def _tag(result: Any, named: Named) -> None:
    if isinstance(result, torch.Tensor) and named.axes.matches(result.shape):
        _registry.tag(result, named)


def _register(
    *names: str, sources: Sequence[Any] = (torch, torch.Tensor, F)
) -> Callable[[Rule], Rule]:
    def decorator(rule: Rule) -> Rule:
        for name in names:
            for source in sources:
                func = getattr(source, name, None)
                if func is not None:
                    RULES[func] = rule
        return rule

    return decorator


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], at: int, name: str) -> Any:
    return args[at] if len(args) > at else kwargs.get(name)


def _axis(annotated: AnnotatedTensor, dim: Any) -> int | None:
    if isinstance(dim, bool) or not isinstance(dim, int):
        return None
    n = len(annotated.axes.groups)
    return dim % n if -n <= dim < n else None


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
    "rsqrt", "sign", "clamp", "clip", "masked_fill", "where", "__add__", "__radd__",
    "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__neg__",
)  # fmt: skip


@_register(*_SAME)
def same_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    if not isinstance(result, torch.Tensor):
        return
    shaped = [
        n
        for n in map(names_of, (*args, *kwargs.values()))
        if n is not None and n.shape == result.shape
    ]
    if shaped and all(n.axes == shaped[0].axes for n in shaped):
        _tag(result, _as_named(shaped[0]))


# -- packed sequences --------------------------------------------------------------------
@_register("_pad_packed_sequence", sources=(torch, torch._VF))
def pad_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    data, batch_first = args[0], bool(_arg(args, kwargs, 2, "batch_first"))
    tag = _registry.lookup(data)
    if tag is None or not tag.packed:
        return
    padded, lengths = result
    out = tag.layout.axes("out")
    lead = (("batch",), ("token",)) if batch_first else (("token",), ("batch",))
    groups = (*lead, out.groups[-1])
    sizes = {
        **out.size_of,
        "batch": padded.shape[1 - batch_first],
        "token": padded.shape[0 + batch_first],
    }
    axes = Axes(groups, tuple((n, sizes[n]) for g in groups for n in g))
    known = tuple(lengths.tolist()) if lengths.device.type == "cpu" else None
    _tag(padded, Named(axes, f"{tag.origin}, padded", lengths=known))


@_register("index_select", "gather")
def batch_order_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Along `batch` (sorting, unsorting): the same names, lengths reordered."""
    source = names_of(args[0])
    if source is None or not isinstance(result, torch.Tensor):
        return
    axis = _axis(source, _arg(args, kwargs, 1, "dim"))
    if axis is None or source.axes.groups[axis] != ("batch",):
        return
    index = _arg(args, kwargs, 2, "index")
    lengths = source.lengths
    if lengths is not None and isinstance(index, torch.Tensor) and index.dim() == 1:
        lengths = tuple(lengths[i] for i in index.tolist()) if index.device.type == "cpu" else None
    sizes = {**source.sizes, "batch": result.shape[axis]}
    axes = Axes(source.axes.groups, tuple((n, sizes[n]) for n in source.axes.dims))
    _tag(result, _as_named(source, axes, lengths=lengths))


# -- joining parts -------------------------------------------------------------------------
@_register("cat", "concat", "concatenate", "stack")
def cat_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    parts = _arg(args, kwargs, 0, "tensors")
    if not isinstance(parts, list | tuple) or len(parts) < 2:
        return
    named = [n for n in map(names_of, parts) if n is not None]
    if len(named) != len(parts):
        return
    dim = _arg(args, kwargs, 1, "dim") or 0
    joined = _misuse.joined(named, dim, stack=func.__name__ == "stack")
    if joined is not None:
        _tag(result, joined)


# -- reductions over a named axis ----------------------------------------------------------
@_register("sum", "mean", "amax", "amin", "max", "min", "logsumexp", "norm", "std", "var", "prod")
def reduce_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    source = names_of(args[0]) if args else None
    if source is None:
        return
    dim = _arg(args, kwargs, 1, "dim")
    if func.__name__ == "norm":
        dim = kwargs.get("dim", args[2] if len(args) > 2 else None)
    axis = _axis(source, dim)
    if axis is None or len(source.axes.groups[axis]) != 1:
        return
    name = source.axes.groups[axis][0]
    _misuse.check_reduction(source, name, func.__name__)
    keep = bool(kwargs.get("keepdim", False))
    groups = tuple(
        (() if keep else None) if g == axis else group for g, group in enumerate(source.axes.groups)
    )
    kept = tuple(g for g in groups if g is not None)
    axes = Axes(kept, tuple((n, source.sizes[n]) for g in kept for n in g))
    lengths = None if name in ("batch", "token") else source.lengths
    origin = f"{source.origin}, {func.__name__} over {name}"
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
    axes = Axes(groups, tuple((n, sizes[n]) for g in groups for n in g))
    _tag(result, _as_named(source, axes, origin=f"{source.origin}, through a Linear layer"))


# -- views: named when read; the follow mode only watches them ---------------------------
@_register("__getitem__", "view", "reshape", "flatten", "unflatten", "view_as", "reshape_as")
def view_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    source = names_of(args[0]) if args else None
    if source is None or not isinstance(result, torch.Tensor):
        return
    if func.__name__ == "__getitem__":
        _misuse.check_index(source, args[1] if len(args) > 1 else None, result)
        return
    named = _misuse.reshaped(source, tuple(result.shape))
    if named is not None and result._base is None:  # a copy: it needs its own tag
        _tag(result, named)


# -- appended rules (each tested in tests/test_rules_extra.py) ------------------------------
@_register("batch_norm", "instance_norm", "group_norm")
def norm_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Normalisation per channel (a sequence-wise BatchNorm1d over `(token batch) hidden`,
    say) keeps the shape and the layout: the names of the input, as `same_rule`."""
    same_rule(func, args, kwargs, result)


@_register("bmm", "matmul", "__matmul__")
def bmm_rule(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """`bmm(weights, values)` over a named axis both share: attention over `token`.

    `weights` `... n k` and `values` `... k m`, both named, with the same leading axes
    and the same name for `k`: the result is `... n m`, the leading axes and `n` named
    as in `weights`, `m` as in `values`. Anything else (a side unnamed, broadcasting
    over different ranks, `k` named differently): unknown.
    """
    if len(args) < 2 or not isinstance(result, torch.Tensor):
        return
    weights, values = names_of(args[0]), names_of(args[1])
    if weights is None or values is None:
        return
    left, right = weights.axes.groups, values.axes.groups
    if len(left) < 2 or len(left) != len(right) or result.dim() != len(left):
        return
    if left[:-2] != right[:-2] or left[-1] != right[-2] or len(left[-1]) != 1:
        return
    if any(weights.sizes[n] != values.sizes[n] for g in left[:-2] for n in g):
        return
    (over,) = left[-1]
    groups = (*left[:-1], right[-1])
    sizes = {**values.sizes, **{n: weights.sizes[n] for n in left[-2]}}
    if len({n for g in groups for n in g}) != sum(map(len, groups)):
        return  # a name on both kept axes: it would be ambiguous
    axes = Axes(groups, tuple((n, sizes[n]) for g in groups for n in g))
    lengths = None if over in ("batch", "token") else values.lengths
    origin = f"{values.origin}, weighted over {over}"
    _tag(result, _as_named(values, axes, origin=origin, notes=(), lengths=lengths))
