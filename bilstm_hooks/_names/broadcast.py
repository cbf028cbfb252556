"""Axes along which a tensor is broadcast (`expand`): their names, their note, what keeps them.

An axis of stride 0 repeats the same elements at each of its positions. No dim of
the annotated tensor names that (`token=6` would say its positions hold six
different tokens), so it gets a name of its own: `broadcast`, then `broadcast2`,
... where one is taken. Its note says what it means, and is kept by
`AnnotatedTensor` exactly while the axis is there. While following, an elementwise
op keeps the names only where its result is still the same along each such axis
(`expanded * 2`, not `expanded + noise` nor dropout in training).

>>> fresh_names(2, ("batch", "broadcast"))
('broadcast2', 'broadcast3')
>>> with_notes(("backward direction only",), ("batch", "broadcast", "hidden"))
('backward direction only', 'broadcast: expanded, its positions hold one and the same data')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch

__all__ = ["NAME", "fresh_names", "is_broadcast", "keeps_broadcast", "note", "with_notes"]

NAME = "broadcast"
_NAMED = re.compile(rf"{NAME}\d*")
_NOTE = ": expanded, its positions hold one and the same data"
_RANDOM = frozenset({"dropout", "dropout_", "alpha_dropout", "feature_alpha_dropout"})


def is_broadcast(name: str) -> bool:
    """Whether `name` is one this module gives to a broadcast axis."""
    return _NAMED.fullmatch(name) is not None


def fresh_names(count: int, taken: Iterable[str]) -> tuple[str, ...]:
    """`count` names for new broadcast axes, none of them in `taken`."""
    used, names, k = set(taken), list[str](), 1
    while len(names) < count:
        name = NAME if k == 1 else f"{NAME}{k}"
        if name not in used:
            names.append(name)
        k += 1
    return tuple(names)


def note(name: str) -> str:
    """`broadcast: expanded, its positions hold one and the same data`."""
    return f"{name}{_NOTE}"


def with_notes(notes: tuple[str, ...], dims: Sequence[str]) -> tuple[str, ...]:
    """`notes` with one note for each broadcast axis in `dims`, and none for one gone."""
    if not any(n.endswith(_NOTE) for n in notes) and not any(map(is_broadcast, dims)):
        return notes  # the common case, in a few hundred nanoseconds
    kept = tuple(n for n in notes if not n.endswith(_NOTE) or n[: -len(_NOTE)] in dims)
    return kept + tuple(note(d) for d in dims if is_broadcast(d) and note(d) not in kept)


def keeps_broadcast(
    groups: tuple[tuple[str, ...], ...],
    func: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    trusted: Sequence[Any] = (),
) -> bool:
    """Whether an elementwise op's result is still the same along each broadcast axis of
    `groups` (the names of its result): every other tensor operand must be too (size 1,
    stride 0, or missing there, aligned from the right), and the op not random.

    `trusted`: the operands whose names already say so (those of the result's axes).
    """
    along = [a for a, g in enumerate(groups) if len(g) == 1 and is_broadcast(g[0])]
    if not along:
        return True
    if getattr(func, "__name__", "") in _RANDOM and not _off(args, kwargs):
        return False  # a mask drawn for each element
    for value in (*args, *kwargs.values()):
        tensor = getattr(value, "tensor", value)
        if not isinstance(tensor, torch.Tensor) or any(tensor is t.tensor for t in trusted):
            continue
        for axis in along:
            at = axis - (len(groups) - tensor.dim())
            if at >= 0 and tensor.shape[at] != 1 and tensor.stride(at) != 0:
                return False
    return True


def _off(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Dropout that drops nothing: `p=0`, or `training=False` (`train` for torch.dropout)."""
    p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
    training = args[2] if len(args) > 2 else kwargs.get("training", kwargs.get("train", True))
    return p == 0 or training is False
