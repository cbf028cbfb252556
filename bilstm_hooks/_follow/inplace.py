"""In-place ops while following: the names of the tensor read before the op changes it.

An in-place op (`relu_`, `x += 1`, `F.relu(x, inplace=True)`) leaves the tensor that
was tagged changed, so that its tag reads as stale afterwards. `_follow.mode` asks
`before` for its names, for the functions in `MAY_CHANGE_IN_PLACE` only, and gives
them back with `after_inplace` once the op has run (and `same_rule` has not named it).

>>> import torch
>>> torch.Tensor.add_ in MAY_CHANGE_IN_PLACE, torch.Tensor.add in MAY_CHANGE_IN_PLACE
(True, False)
"""

from __future__ import annotations

from typing import Any

from .._core.annotated import AnnotatedTensor
from .._names.broadcast import keeps_broadcast
from .rule_parts import as_named, names_of, tag
from .rules import RULES, same_rule

__all__ = ["MAY_CHANGE_IN_PLACE", "after_inplace", "before"]

# where `inplace` sits among the positional arguments of the functional forms
_INPLACE_AT = {"relu": 1, "selu": 1, "silu": 1, "elu": 2, "leaky_relu": 2, "hardtanh": 3}
_INPLACE_AT.update(dropout=3, alpha_dropout=3)


def before(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AnnotatedTensor | None:
    """The names of the tensor an in-place op (`relu_`, `x += 1`, `F.relu(x, inplace=True)`)
    is about to change: read before it does, when it is no longer what was tagged.
    `_follow.mode` asks only for the functions in `MAY_CHANGE_IN_PLACE`."""
    if not args or RULES.get(func) is not same_rule:
        return None
    name = getattr(func, "__name__", "")
    inplace = name.startswith("__i") if name.endswith("__") else name.endswith("_")
    at = _INPLACE_AT.get(name)
    inplace = inplace or kwargs.get("inplace") is True
    inplace = inplace or (at is not None and len(args) > at and args[at] is True)
    names = names_of(args[0]) if inplace else None
    kept = names is None or keeps_broadcast(names.axes.groups, func, args, kwargs, (names,))
    return names if kept else None


def after_inplace(names: AnnotatedTensor, result: Any) -> None:
    """`result`, the tensor changed in place, named as it was before."""
    if result is names.tensor and names_of(result) is None:
        tag(result, as_named(names))


def _may_change_in_place(func: Any) -> bool:
    name = getattr(func, "__name__", "")
    if name in _INPLACE_AT:
        return True
    return name.startswith("__i") if name.endswith("__") else name.endswith("_")


MAY_CHANGE_IN_PLACE = frozenset(
    f for f, rule in RULES.items() if rule is same_rule and _may_change_in_place(f)
)
