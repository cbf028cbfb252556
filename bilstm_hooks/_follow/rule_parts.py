"""The pieces every rule of `_follow.rules` is made of: names of the arguments, names for results.

>>> import torch
>>> from bilstm_hooks._follow.rule_parts import names_of
>>> names_of(torch.zeros(2)) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import filterfalse
from typing import Any

import torch
import torch.nn.functional as F

from .._core import registry
from .._core.annotated import AnnotatedTensor, named_from
from .._core.lookup import annotation_of
from .._names.layout import Axes
from .._names.named import Named
from .._names.notes import is_order_note

__all__ = [
    "RULES",
    "Rule",
    "arg",
    "as_named",
    "axis_of",
    "copied",
    "functions",
    "names_of",
    "register",
    "tag",
    "without",
]


Rule = Callable[[Any, tuple[Any, ...], dict[str, Any], Any], None]
RULES: dict[Any, Rule] = {}
"""The rule of each torch op, by the function torch passes to `__torch_function__`."""


def functions(*names: str, sources: Sequence[Any] = (torch, torch.Tensor, F)) -> set[Any]:
    """The functions torch passes to `__torch_function__` for `names`, in `sources`."""
    return {f for name in names for s in sources if (f := getattr(s, name, None)) is not None}


def register(
    *names: str, sources: Sequence[Any] = (torch, torch.Tensor, F)
) -> Callable[[Rule], Rule]:
    """Make the decorated rule the one of each op `names` names in `sources`."""

    def decorator(rule: Rule) -> Rule:
        for func in functions(*names, sources=sources):
            RULES[func] = rule
        return rule

    return decorator


def names_of(value: Any) -> AnnotatedTensor | None:
    """The names of a tensor argument (no storage scan: cheap enough for every op), but
    for an inference tensor, whose views keep no `_base`: those are found by storage."""
    if isinstance(value, AnnotatedTensor):
        return value
    if not isinstance(value, torch.Tensor):
        return None
    return annotation_of(value, shared=value.is_inference())


def as_named(annotated: AnnotatedTensor, axes: Axes | None = None, **changes: Any) -> Named:
    """`annotated`'s names for a result; slices of dims the result lacks are dropped."""
    named = named_from(annotated, axes, **changes)
    if axes is None or "sliced" in changes:
        return named
    kept = set(axes.dims)
    return named._replace(
        sliced=tuple(s for s in named.sliced if s[0] in kept),
        full=tuple(f for f in named.full if f[0] in kept),
        sequences=named.sequences if "batch" in kept else None,
        notes=named.notes if "batch" in kept else tuple(filterfalse(is_order_note, named.notes)),
    )


def joined_axis(rank: int, dim: int, *, stack: bool) -> int | None:
    """The axis of the result at which a `cat` of parts of `rank` axes joins (`dim`), or a
    `stack` puts its new axis; None where `dim` is out of range."""
    n = rank + (1 if stack else 0)
    return dim % n if -n <= dim < n else None


def storages(parts: Sequence[AnnotatedTensor]) -> int:
    """How many distinct storages the tensors of `parts` are views of."""
    return len({p.tensor.untyped_storage().data_ptr() for p in parts})


def full_sizes(annotated: AnnotatedTensor) -> dict[str, int]:
    """The size of each dim in the tensor `origin` names (a sliced dim's whole size)."""
    return {**annotated.sizes, **dict(named_from(annotated).full)}


def without(named: Named, name: str) -> Named:
    """`named` with `name` no longer sliced (reordered, or joined again)."""
    return named._replace(
        sliced=tuple(s for s in named.sliced if s[0] != name),
        full=tuple(f for f in named.full if f[0] != name),
    )


def tag(result: Any, named: Named) -> None:
    if isinstance(result, torch.Tensor) and named.axes.matches(result.shape):
        registry.tag(result, named)


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], at: int, name: str) -> Any:
    return args[at] if len(args) > at else kwargs.get(name)


def axis_of(annotated: AnnotatedTensor, dim: Any) -> int | None:
    if isinstance(dim, bool) or not isinstance(dim, int):
        return None
    n = len(annotated.axes.groups)
    return dim % n if -n <= dim < n else None


def copied(result: torch.Tensor, source: AnnotatedTensor) -> bool:
    """Whether `result` is a copy, not a view (views of inference tensors keep no _base)."""
    if result._base is not None:
        return False
    tensor = source.tensor
    shared = result.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    return not (shared and result.is_inference())
