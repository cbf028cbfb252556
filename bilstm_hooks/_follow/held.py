"""Warnings held until the value they are about is used (while following).

`out[:, -1]` of a bidirectional layer holds both halves at the last token: wrong as a
final state, whose backward half has read one token, but right as one end of a
tagger's `torch.cat([out[:, -1], out[:, 0]], -1)`. So its warning is held on the
tensor taken, carried by the ops made from it (dropout, an activation, a view), and
given where the value is used:

- a Linear, a matrix product or a loss;
- a `cat` or `stack` that does not also join token 0 of the same output;
- the end of the followed forward or `bh.follow()` block, for a value still alive
  there (returned, or kept).

A value joined with its token 0, or dropped unused, warns about nothing. Each held
warning is given once. The store is the thread's, as the follow mode is.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import torch

from .rule_parts import functions, names_of

__all__ = ["STORE", "after", "hold", "release", "warn_alive"]

_USES = functions(
    "linear", "bilinear", "matmul", "mm", "bmm", "addmm", "einsum", "__matmul__",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
)  # fmt: skip
_JOINS = functions("cat", "concat", "concatenate", "stack", "hstack")
_USED, _KEPT = ", used here:", ", kept to the end of the followed code:"
_PRUNE_AT = 256
_FIRST_TOKEN = "token 0: its forward half"  # the note of `out[:, 0]` (`_names.notes`)


class _Store(threading.local):
    def __init__(self) -> None:
        # id of a tensor -> (a weak reference to it, its warning's number)
        self.values: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}
        # a warning's number -> (its message, the origin whose token 0 silences it)
        self.warnings: dict[int, tuple[str, str]] = {}
        self.count = 0


STORE = _Store()


def hold(value: torch.Tensor, message: str, origin: str) -> None:
    """Hold `message` on `value` until it is used; a join with token 0 of `origin`
    silences it."""
    store = STORE
    if len(store.values) >= _PRUNE_AT:  # a mode that lasts (a loop's): the dead go
        for key in [k for k, (ref, _) in store.values.items() if ref() is None]:
            _release(store.values[key][1])
    store.count += 1
    store.warnings[store.count] = (message, origin)
    store.values[id(value)] = (weakref.ref(value), store.count)


def after(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> str | None:
    """After an op: the message of a held warning it uses (now released), or None; a
    result made from a held value holds its warning too."""
    store = STORE
    operands = [*args, *kwargs.values()]
    if func in _JOINS and operands and isinstance(operands[0], list | tuple):
        operands = [*operands[0], *operands[1:]]
    numbers = {n for n in map(_number, operands) if n is not None}
    if not numbers:
        return None
    if func in _JOINS:
        for number in list(numbers):
            origin = store.warnings[number][1]
            if any(_is_first_token(part, origin) for part in operands):
                _release(number)  # both ends of the output joined: a tagger's, on purpose
                numbers.discard(number)
    if not numbers:
        return None
    if func in _USES or func in _JOINS:
        number = min(numbers)
        message = store.warnings[number][0]
        for n in numbers:
            _release(n)
        return message
    if isinstance(result, torch.Tensor):
        store.values[id(result)] = (weakref.ref(result), min(numbers))
    return None


def warn_alive() -> list[str]:
    """At the end of a followed forward or block: the messages of the held warnings
    whose values are still alive (returned or kept); every warning is released."""
    store = STORE
    alive = sorted({n for ref, n in store.values.values() if ref() is not None})
    messages = [store.warnings[n][0].replace(_USED, _KEPT, 1) for n in alive]
    release()
    return messages


def release() -> None:
    """Forget every held warning of this thread (a mode starts or ends)."""
    STORE.values.clear()
    STORE.warnings.clear()


def _number(value: Any) -> int | None:
    entry = STORE.values.get(id(value)) if isinstance(value, torch.Tensor) else None
    if entry is None or entry[0]() is not value:
        return None  # another tensor at a freed one's address
    return entry[1]


def _release(number: int) -> None:
    store = STORE
    store.warnings.pop(number, None)
    for key in [k for k, (_, n) in store.values.items() if n == number]:
        del store.values[key]


def _is_first_token(value: Any, origin: str) -> bool:
    names = names_of(value) if isinstance(value, torch.Tensor) else None
    return (
        names is not None
        and names.origin == origin
        and any(n.startswith(_FIRST_TOKEN) for n in names.notes)
    )
