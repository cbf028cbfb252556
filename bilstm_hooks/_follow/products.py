"""Matrix products over named axes: attention weights times encoder outputs.

>>> import torch
>>> from bilstm_hooks._follow.rule_parts import RULES
>>> RULES[torch.bmm].__name__
'bmm_rule'
"""

from __future__ import annotations

from typing import Any

import torch

from .._core.annotated import named_from
from .._names.layout import Axes
from .rule_parts import as_named as _as_named
from .rule_parts import names_of
from .rule_parts import register as _register
from .rule_parts import tag as _tag

__all__ = ["bmm_rule"]


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
    axes = Axes.of(groups, sizes)
    lengths = None if over in ("batch", "token") else named_from(values).lengths
    origin = f"{values.origin}, weighted over {over}"
    _tag(result, _as_named(values, axes, origin=origin, notes=(), lengths=lengths))
