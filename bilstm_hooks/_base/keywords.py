"""`@checked_keywords`: an unknown keyword argument is named with the ones accepted.

Python's own message (`got an unexpected keyword argument 'num_directions'`) leaves
the reader to look the signature up. The decorator checks the keyword names against
a set computed once, so a correct call pays one subset test, and only a wrong one
builds a message. Errors raised inside the function are never rewritten.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

__all__ = ["checked_keywords", "unexpected_keywords"]

P = ParamSpec("P")
R = TypeVar("R")

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def checked_keywords(func: Callable[P, R]) -> Callable[P, R]:
    """Make an unknown keyword a `TypeError` that lists the keywords `func` accepts.

    The signature is kept (`inspect.signature`, documentation tools and type
    checkers see `func`'s). A function that takes `**kwargs` is returned as is.

    Examples:
        >>> @checked_keywords
        ... def split(out, *, directions=None):
        ...     return out, directions
        >>> split(1, directions=2)
        (1, 2)
        >>> split(1, num_directions=2)
        Traceback (most recent call last):
        ...
        TypeError: split() got an unexpected keyword argument 'num_directions'; it accepts: directions; did you mean 'directions'?
    """  # noqa: E501
    parameters = inspect.signature(func).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return func
    names = tuple(p.name for p in parameters if p.kind in _BY_KEYWORD)
    known = frozenset(names)
    in_order = tuple(p.name for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY)

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs and not known.issuperset(kwargs):
            taken = in_order[: len(args)]  # given by position: no longer a choice
            unknown = [key for key in kwargs if key not in known]
            choices = [name for name in names if name not in taken]
            raise TypeError(unexpected_keywords(func.__name__, unknown, choices))
        return func(*args, **kwargs)

    return checked


def unexpected_keywords(function: str, unknown: Sequence[str], accepted: Sequence[str]) -> str:
    """The message for the `unknown` keywords of a call to `function`.

    Examples:
        >>> unexpected_keywords("last_outputs", ["num_layers"], ["module", "directions"])
        "last_outputs() got an unexpected keyword argument 'num_layers'; it accepts: module, directions"
    """  # noqa: E501
    several = len(unknown) > 1
    listed = ", ".join(repr(key) for key in unknown)
    text = f"{function}() got {'' if several else 'an '}unexpected keyword argument"
    text += f"{'s' if several else ''} {listed}; "
    text += f"it accepts: {', '.join(accepted)}" if accepted else "it accepts no more keywords"
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, accepted, n=1)
        if close:
            hints.append(f"{close[0]!r}" + (f" for {key!r}" if several else ""))
    if hints:
        text += f"; did you mean {', '.join(hints)}?"
    return text
