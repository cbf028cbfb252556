"""What changed since a recorded call: its tensors in place, the layer's weights, or where
its tensors live (inside `torch.func.vmap`, which they cannot leave).

The hook keeps each call's version counters (`out`, `h_n`, `c_n`, the input), and a
record keeps the layer's parameters' versions from when it is built: on first read, or
before the next `optimizer.step()` (a step pre-hook builds the records not read yet).
A check or a replay that would read changed values refuses and says which changed,
instead of blaming the layout or the replay.

>>> import torch, bilstm_hooks as bh
>>> lstm = torch.nn.LSTM(3, 4)
>>> rec = bh.attach_hooks(lstm)
>>> out, (h_n, c_n) = lstm(torch.randn(5, 2, 3))
>>> changed_in_place(rec[lstm]), bool(h_n.zero_() is h_n), changed_in_place(rec[lstm])
([], True, ['h_n'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

if TYPE_CHECKING:
    from .record import Record

__all__ = ["changed_in_place", "in_place_reason", "outside_vmap", "weight_versions"]

_ROLES = ("out", "h_n", "c_n", "input")  # the order of the hook's versions
_functorch = torch._C._functorch


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


def changed_in_place(record: Record, roles: tuple[str, ...] = _ROLES) -> list[str]:
    """The tensors of the call (of `roles`) changed in place since it, by their versions."""
    kept = record._call_versions
    if kept is None:
        return []
    raw = {
        "out": record._raw_out,
        "h_n": record._raw_h_n,
        "c_n": record._raw_c_n,
        "input": record._raw_input,
    }
    changed = []
    for role, then in zip(_ROLES, kept, strict=True):
        now = version_of(raw[role])
        if role in roles and then >= 0 and now is not None and now != then:
            changed.append(role)
    return changed


def in_place_reason(record: Record, what: str, roles: tuple[str, ...] = _ROLES) -> str | None:
    """`cannot <what>: out was changed in place since the call ...`, or None."""
    changed = changed_in_place(record, roles)
    if not changed:
        return None
    listed = " and ".join(changed)
    were = "were" if len(changed) > 1 else "was"
    return (
        f"cannot {what}: {listed} {were} changed in place since the call (a version "
        "counter moved: out.relu_(), h_n.zero_(), x += 1, say), so the values are no longer "
        "the layer's. Read the record before changing them, or change a copy (.clone())"
    )


def outside_vmap(record: Record, what: str) -> str | None:
    """Why the call's values cannot be read, when it ran inside `torch.func.vmap`; else None."""
    for value in (record._raw_out, record._raw_h_n, record._raw_c_n, record._raw_input):
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
