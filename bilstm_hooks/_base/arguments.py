"""Checks of the options a caller passes, in one form: `expected <what>, got <value>`.

A wrong type is a `TypeError`, a value out of range a `ValueError`. A bool is never
a count (`True` is an int to Python), and only a bool is a flag: `gates="no"` is a
mistake to name, not a truthy string to act on.

Examples:
    >>> expect_count("max_tokens", 0)
    Traceback (most recent call last):
    ...
    ValueError: expected max_tokens as an int >= 1, got 0
"""

from __future__ import annotations

__all__ = ["expect_bool", "expect_count", "expect_type"]


def expect_bool(name: str, value: object) -> None:
    """Raise a `TypeError` unless `value` is `True` or `False`."""
    if value is not True and value is not False:
        raise TypeError(f"expected {name} as a bool, got {value!r}")


def expect_count(name: str, value: object) -> None:
    """Raise unless `value` is an int >= 1 (a bool is not): `TypeError`, else `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected {name} as an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"expected {name} as an int >= 1, got {value!r}")


def expect_type(name: str, value: object, kind: type, described: str = "") -> None:
    """Raise a `TypeError` unless `value` is a `kind` (`described`: how to say it)."""
    if not isinstance(value, kind):
        raise TypeError(f"expected {name} as {described or f'a {kind.__name__}'}, got {value!r}")
