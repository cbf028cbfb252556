"""Patterns of named axes: the subset of einops that names every axis."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["parse_pattern", "rearrangement"]

_TOKEN = re.compile(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S+")


def parse_pattern(pattern: str) -> tuple[tuple[str, ...], ...]:
    """`"batch (direction hidden)"` -> `(("batch",), ("direction", "hidden"))`.

    Only names and one level of parentheses: the subset of einops that names
    every axis, so that the result can still be annotated.
    """
    groups: list[tuple[str, ...]] = []
    open_group: list[str] | None = None
    for token in _TOKEN.findall(pattern):
        if token == "(":
            if open_group is not None:
                raise ValueError(f"nested parentheses in {pattern!r}")
            open_group = []
        elif token == ")":
            if not open_group:
                raise ValueError(f"unbalanced or empty parentheses in {pattern!r}")
            groups.append(tuple(open_group))
            open_group = None
        elif token.isidentifier():
            if open_group is None:
                groups.append((token,))
            else:
                open_group.append(token)
        else:
            raise ValueError(f"expected axis names and parentheses in {pattern!r}, got {token!r}")
    if open_group is not None:
        raise ValueError(f"unbalanced parentheses in {pattern!r}")
    return tuple(groups)


def rearrangement(
    sizes: Mapping[str, int], target: str, what: str
) -> tuple[tuple[tuple[str, ...], ...], list[str]]:
    """`(groups, left out)` of a rearrange of dims `sizes` to `target`: every dim once,
    those of size 1 alone may be left out. A ValueError starting with `what` otherwise.

    Examples:
        >>> rearrangement({"direction": 1, "hidden": 4}, "hidden", "cannot rearrange")
        ((('hidden',),), ['direction'])
    """
    try:
        groups = parse_pattern(target)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    names = [name for group in groups for name in group]
    unknown = [name for name in names if name not in sizes]
    if unknown:
        raise ValueError(
            f"{what}: unknown dimension {', '.join(map(repr, unknown))}; known: {', '.join(sizes)}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{what}: {', '.join(map(repr, repeated))} appears more than once")
    missing = [name for name in sizes if name not in names]
    kept = [name for name in missing if sizes[name] != 1]
    if kept:
        listed = ", ".join(f"{name!r} (size {sizes[name]})" for name in kept)
        raise ValueError(
            f"{what}: missing {listed}; rearrange keeps every dimension "
            "(only those of size 1 may be left out)"
        )
    return groups, missing
