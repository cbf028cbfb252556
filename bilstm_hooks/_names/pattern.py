"""Patterns of named axes: the subset of einops that names every axis."""

from __future__ import annotations

import re

__all__ = ["parse_pattern"]

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
