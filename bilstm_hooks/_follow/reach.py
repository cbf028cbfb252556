"""Which directions of a bidirectional layer's last layer reach what a followed forward returns.

`fc(h_n[-1])` on a bidirectional classifier reads the last layer's backward row only:
its forward direction is computed and never used. While following, each tensor made
from a bidirectional layer's `out`, `h_n` or `c_n` carries the directions of that
layer's last layer it may hold, by the layer's label. Every op passes the union of
its operands' directions to its results; only a selection (an index, `narrow`,
`split`, `chunk`, `unbind`) of one such operand narrows them, to what its result's
names say it holds (`h_n[-1]`: the backward direction; `h_n[0]` of two layers:
neither). What cannot be named keeps the union, so that a direction is only ever said
to be unused when every value made from it was told apart from it.

At the end of a followed forward, a layer of which the returned values (the loss, the
logits, a state: any tensor in the output) hold one last-layer direction and not the
other warns once (`bh.UnusedDirectionWarning`). A layer whose output held both in
`CHECKS` forwards of a mode (training, eval) is not followed so in that mode again. A
layer none of whose values reach the output says nothing: it is not known how it was
used. The store is the thread's, as the follow mode is.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import torch

from .._base.packed import tensors_in
from .rule_parts import functions, names_of

__all__ = ["STORE", "after", "release", "track", "unused"]

Directions = frozenset[int]
Reach = dict[str, Directions]  # a layer's key -> the directions of its last layer held
BOTH: Directions = frozenset((0, 1))
_NONE: Directions = frozenset()
_SELECTIONS = functions(
    "__getitem__", "select", "narrow", "split", "split_with_sizes", "chunk", "unbind",
    "tensor_split", "index_select", sources=(torch, torch.Tensor),
)  # fmt: skip
_IN_PLACE = {torch.Tensor.__setitem__, torch.Tensor.copy_}
_UNUSED = (
    "{key}'s last layer: its {lacks} direction never reaches what the forward returns, "
    "only its {has} one does ({row} is the last layer's {has} row). The final state of "
    "both is torch.cat([h_n[-2], h_n[-1]], -1), or bh.final_representation(h_n, "
    "module=...); to use one direction on purpose, filter bh.UnusedDirectionWarning"
)
_NAMES = ("forward", "backward")
_WARNED: weakref.WeakSet[torch.nn.Module] = weakref.WeakSet()  # each layer warns once
# a layer's forwards whose output held both directions, in eval and in training: after
# `CHECKS` of each its calls in that mode are no longer followed (their cost is not paid)
_CLEAN: weakref.WeakKeyDictionary[torch.nn.Module, list[int]] = weakref.WeakKeyDictionary()
CHECKS = 4


class _Store(threading.local):
    def __init__(self) -> None:
        self.values: dict[int, tuple[weakref.ref[torch.Tensor], Reach]] = {}
        # a layer's key -> the index of its last layer, and the layer
        self.layers: dict[str, tuple[int, weakref.ref[torch.nn.Module]]] = {}


STORE = _Store()


def key_of(origin: str) -> str:
    """The layer's key in an origin: `encoder` of `encoder.out, padded`.

    >>> key_of("Classifier.encoder.h_n")
    'Classifier.encoder'
    """
    return origin.split(",", 1)[0].rsplit(".", 1)[0]


def track(module: torch.nn.Module, origin: str, layers: int, tensors: tuple[Any, ...]) -> None:
    """Start following the last-layer directions of a bidirectional call's tensors."""
    if module in _WARNED or _CLEAN.get(module, (0, 0))[module.training] >= CHECKS:
        return  # told once already, or checked enough in this mode
    key = key_of(origin)
    STORE.layers[key] = (layers - 1, weakref.ref(module))
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor):
            _add(tensor, {key: BOTH})


def after(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Pass the directions an op's operands hold to its results (narrowed by a selection)."""
    merged: Reach | None = None
    for operand in (*args, *kwargs.values()) if kwargs else args:
        for value in operand if isinstance(operand, list | tuple) else (operand,):
            reach = _reach(value)
            if reach is None:
                continue
            if merged is None:
                merged = reach
                continue
            merged = {k: merged.get(k, _NONE) | reach.get(k, _NONE) for k in {*merged, *reach}}
    if merged is None:
        return
    for value in tensors_in(result):
        _add(value, _narrowed(value, merged) if func in _SELECTIONS else merged)
    in_place = func in _IN_PLACE or getattr(func, "__name__", "").endswith("_")
    if in_place and args and isinstance(args[0], torch.Tensor):
        _add(args[0], merged)  # a buffer written in place holds what was written


def unused(output: Any) -> list[str]:
    """At the end of a followed forward: a message for each layer (once a layer) of
    which `output` holds one last-layer direction only; every value is forgotten."""
    held: Reach = {}
    for value in tensors_in(output):
        for key, directions in (_reach(value) or {}).items():
            held[key] = held.get(key, frozenset()) | directions
    messages = []
    for key, directions in held.items():
        layer = STORE.layers.get(key)
        module = None if layer is None else layer[1]()
        if module is None or module in _WARNED:
            continue
        if len(directions) == 2:
            _CLEAN.setdefault(module, [0, 0])[module.training] += 1
        if len(directions) != 1:
            continue
        _WARNED.add(module)
        (has,) = directions
        row = ("h_n[-2]", "h_n[-1]")[has]
        messages.append(_UNUSED.format(key=key, lacks=_NAMES[1 - has], has=_NAMES[has], row=row))
    release()
    return messages


def release() -> None:
    """Forget every value of this thread (a mode starts or ends)."""
    STORE.values.clear()
    STORE.layers.clear()


def _narrowed(value: torch.Tensor, merged: Reach) -> Reach:
    names = names_of(value)
    if names is None:
        return merged
    key = key_of(names.origin)
    layer = STORE.layers.get(key)
    if layer is None or key not in merged:
        return merged
    held = _held_by(names, layer[0])
    return merged if held is None else {**merged, key: held & merged[key]}


def _held_by(names: Any, last: int) -> Directions | None:
    """The last-layer directions a named value holds, or None where its names don't say."""
    at, dims, sliced = names.at, names.axes.dims, names.sliced
    if "layer" in at:
        if at["layer"] != last:
            return frozenset()
    elif "layer" in dims and "layer" in sliced and last not in range(*sliced["layer"]):
        return frozenset()
    if "direction" in at:
        return frozenset((at["direction"],))
    if "direction" in dims:
        return BOTH & frozenset(range(*sliced["direction"])) if "direction" in sliced else BOTH
    return None


def _reach(value: Any) -> Reach | None:
    entry = STORE.values.get(id(value)) if isinstance(value, torch.Tensor) else None
    if entry is None or entry[0]() is not value:
        return None  # another tensor at a freed one's address
    return entry[1]


def _add(value: torch.Tensor, reach: Reach) -> None:
    old = _reach(value)
    if old is not None and old is not reach:
        reach = {k: old.get(k, _NONE) | reach.get(k, _NONE) for k in {*old, *reach}}
    STORE.values[id(value)] = (weakref.ref(value), reach)
