"""The table through which the floors above give the objects below their views.

`Record`, `Recorder`, `AnnotatedTensor`, `Unrolled` and `Saturation` never import the
modules that draw them: their `__repr__`, `_repr_html_`, `diagram()` and `plot()` ask
this table for the function registered under a name (`provider("record html")`). The
display floor registers each one with `@provides(...)` when it is imported, and
`import bilstm_hooks` imports it, so every name is filled before any object exists.

Examples:
    >>> import bilstm_hooks
    >>> provider("record text").__name__
    'record_text'
    >>> provider("no such view")
    Traceback (most recent call last):
    ...
    LookupError: expected a view registered as 'no such view', got none; registered: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["provider", "provides"]

F = TypeVar("F", bound=Callable[..., Any])

_TABLE: dict[str, Callable[..., Any]] = {}


def provides(name: str) -> Callable[[F], F]:
    """Register the decorated function as the view `name` (once: a second is a bug)."""

    def register(function: F) -> F:
        if name in _TABLE and _TABLE[name] is not function:
            raise RuntimeError(f"two views registered as {name!r}: {_TABLE[name]}, {function}")
        _TABLE[name] = function
        return function

    return register


def provider(name: str) -> Callable[..., Any]:
    """The function registered as `name`."""
    found = _TABLE.get(name)
    if found is None:
        raise LookupError(
            f"expected a view registered as {name!r}, got none; registered: "
            + ", ".join(sorted(_TABLE))
        )
    return found
