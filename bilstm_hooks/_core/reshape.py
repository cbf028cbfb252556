"""The tensor work of `AnnotatedTensor.isel`, `rearrange` and `split_directions`, on a
plain tensor and its `Axes`: the annotated tensor composes the names.

>>> import torch
>>> from bilstm_hooks._names.layout import Axes
>>> axes = Axes.of([("layer", "direction"), ("batch",)], {"layer": 2, "direction": 2, "batch": 5})
>>> tensor, rest, at = selected(torch.zeros(4, 5), axes, {"layer": 1, "direction": "forward"})
>>> tuple(tensor.shape), rest.pattern, at
((5,), 'batch', {'layer': 1, 'direction': 0})
"""

from __future__ import annotations

from collections.abc import Mapping

import einops
import torch

from .._names.layout import DIRECTIONS, Axes
from .._names.pattern import rearrangement

__all__ = ["directions", "rearranged", "selected"]


def selected(
    tensor: torch.Tensor, axes: Axes, positions: Mapping[str, int | str]
) -> tuple[torch.Tensor, Axes, dict[str, int]]:
    """`(view, its axes, the positions taken)`: each named dim of `tensor` taken at one
    position (a fused axis split for it, the rest kept fused)."""
    at: dict[str, int] = {}
    for name, given in positions.items():
        size = axes.size_of
        if name not in size:
            raise KeyError(
                f"cannot select {name!r}: expected one of {', '.join(size)} ({axes.described()})"
            )
        index = _position(name, given, size[name])
        g, group = next((g, group) for g, group in enumerate(axes.groups) if name in group)
        if len(group) == 1:
            tensor = tensor.select(g, index)
        else:
            k = group.index(name)
            tensor = tensor.unflatten(g, tuple(size[n] for n in group)).select(g + k, index)  # type: ignore[no-untyped-call]
            if len(group) > 2:
                tensor = tensor.flatten(g, g + len(group) - 2)
        axes = axes.without(name)
        at[name] = index
    return tensor, axes, at


def _position(name: str, given: int | str, size: int) -> int:
    if name == "direction" and isinstance(given, str) and given in DIRECTIONS[:size]:
        return DIRECTIONS.index(given)
    if isinstance(given, bool) or not isinstance(given, int):
        names = " or 'forward'/'backward'" if name == "direction" else ""
        raise TypeError(f"expected {name} as an int position{names}, got {given!r}")
    if not -size <= given < size:
        raise IndexError(f"expected {name} in [{-size}, {size - 1}], got {given}")
    return given % size


def rearranged(
    tensor: torch.Tensor, axes: Axes, target: str, what: str
) -> tuple[torch.Tensor, Axes]:
    """`tensor` of `axes` rearranged to `target` (see `rearrangement`), a view where einops
    gives one; a ValueError starting with `what`."""
    known = axes.size_of
    groups, missing = rearrangement(known, target, what)
    try:
        result = einops.rearrange(
            tensor, f"{axes.pattern} -> {' '.join(missing)} {target}", **known
        )
    except einops.EinopsError as exc:  # a safety net: the cases known are checked above
        reason = str(exc).strip().splitlines()[-1].strip()
        raise ValueError(f"{what}: {reason}") from None
    if missing:
        result = result[(0,) * len(missing)]
    return result, Axes.of(groups, known)


def directions(tensor: torch.Tensor, axes: Axes) -> tuple[torch.Tensor, Axes]:
    """`tensor` with its `direction` dim first, and the axes of each direction."""
    rest = axes.without("direction")
    stacked = einops.rearrange(
        tensor, f"{axes.pattern} -> direction {rest.pattern}", **axes.size_of
    )
    return stacked, rest
