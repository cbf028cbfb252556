"""What changed since a recorded call: its tensors in place, the layer's weights, or where
its tensors live (inside `torch.func.vmap`, which they cannot leave).

The hook keeps each call's version counters (`out`, `h_n`, `c_n`, the input), and a
record keeps the layer's parameters' versions from when it is built: on first read, or
before the next `optimizer.step()` (a step pre-hook builds the records not read yet).
A check or a replay that would read changed values refuses and says which changed,
instead of blaming the layout or the replay.

>>> import torch
>>> h_n = torch.zeros(2, 3)
>>> kept = (version_of(h_n),)  # the versions of out, h_n, c_n, input: here out alone
>>> changed_in_place({"out": h_n}, kept), bool(h_n.add_(1) is h_n)
([], True)
>>> changed_in_place({"out": h_n}, kept)
['out']
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import TypeAlias

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

__all__ = [
    "ROLES",
    "Originals",
    "changed_in_place",
    "in_place_reason",
    "unreadable_reason",
    "version_of",
    "vmap_reason",
    "weight_versions",
]

ROLES = ("out", "h_n", "c_n", "input")  # the order of the hook's versions
_functorch = torch._C._functorch
# weak references to the tensors a call returned, in the order of ROLES, where the hook kept
# a copy without the graph instead (None elsewhere); None where it kept no copy at all
Originals: TypeAlias = "tuple[weakref.ref[torch.Tensor] | None, ...] | None"


def version_of(value: torch.Tensor | PackedSequence | None) -> int | None:
    """The version counter of a tensor (a PackedSequence's data); None without one."""
    if value is None:
        return None
    tensor = value.data if isinstance(value, PackedSequence) else value
    try:
        return int(tensor._version)
    except RuntimeError:  # an inference tensor keeps no version
        return None


def weight_versions(module: nn.Module) -> tuple[int, ...]:
    """The version counters of the layer's parameters: they move on every in-place update
    (`optimizer.step()`, `load_state_dict()`); `()` where they keep none."""
    try:
        return tuple(p._version for p in module.parameters())
    except RuntimeError:  # inference tensors keep no version
        return ()


def changed_in_place(
    values: Mapping[str, torch.Tensor | PackedSequence | None],
    kept: tuple[int, ...] | None,
    roles: tuple[str, ...] = ROLES,
    originals: Originals = None,
) -> list[str]:
    """The `values` (of `roles`) changed in place since their versions `kept` (in the order
    of `ROLES`; -1 where none was kept) were read.

    `originals` holds, in the same order, a weak reference to the tensor the call returned
    wherever its value is a copy made without the graph (`tensor.data`, which has a version
    counter of its own, from 0): while the original lives, its counter tells; once it is gone,
    only a change made through the copy (or its views) can be told."""
    if kept is None:
        return []
    changed = []
    for index, (role, then) in enumerate(zip(ROLES, kept, strict=False)):
        value = values.get(role)
        held = None if originals is None else originals[index]
        if held is not None:
            original = held()
            if original is None:  # only the copy is left: its own counter started at 0
                then = 0 if then >= 0 else then
            else:
                value = original
        now = version_of(value)
        if role in roles and then >= 0 and now is not None and now != then:
            changed.append(role)
    return changed


def in_place_reason(changed: list[str], what: str) -> str | None:
    """`cannot <what>: out was changed in place since the call ...`, or None."""
    if not changed:
        return None
    listed = " and ".join(changed)
    were = "were" if len(changed) > 1 else "was"
    return (
        f"cannot {what}: {listed} {were} changed in place since the call (a version "
        "counter moved: out.relu_(), h_n.zero_(), x += 1, say), so the values are no longer "
        "the layer's. Read the record before changing them, or change a copy (.clone())"
    )


def unreadable_reason(
    values: Mapping[str, torch.Tensor | PackedSequence | None],
    kept: tuple[int, ...] | None,
    originals: Originals,
    what: str,
    roles: tuple[str, ...] = ROLES,
) -> str | None:
    """Why a call's `values` cannot be read to `what`: they live inside `torch.func.vmap`
    (`vmap_reason`), or those of `roles` changed in place since the call; else None."""
    reason = vmap_reason(values.values(), what)
    if reason is None:
        reason = in_place_reason(changed_in_place(values, kept, roles, originals), what)
    return reason


def vmap_reason(values: Iterable[torch.Tensor | PackedSequence | None], what: str) -> str | None:
    """Why the call's values cannot be read, when it ran inside `torch.func.vmap`; else None."""
    for value in values:
        tensor = value.data if isinstance(value, PackedSequence) else value
        while isinstance(tensor, torch.Tensor) and _functorch.is_functorch_wrapped_tensor(tensor):
            if _functorch.is_batchedtensor(tensor):
                return (
                    f"cannot {what}: the call ran inside torch.func.vmap, and its tensors hold "
                    "one sample each of a batch that exists only inside the vmapped function. "
                    "Call the layer outside vmap (on one sample, or on the whole batch) to "
                    "record a call whose values can be read"
                )
            tensor = _functorch.get_unwrapped(tensor)
    return None
