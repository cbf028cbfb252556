"""The children of an annotated tensor in a debugger: its named views, dims and annotation.

A plan per layout (remembered: debuggers ask again at every pause) says which views
to make (`forward`/`backward` halves, one row of `h_n` per layer and direction, the
layers of a fused axis) and how to write each as an expression of its parent. Each
call makes only the views: metadata, no tensor data read. A view is not tagged: it
is named when read, from its strides, the way the same expression typed in a watch
pane is (`h_n[3]`: `encoder.h_n: layer 1, backward · backward direction only`).
Only what `annotation_of` cannot name at once is tagged, weakly: a copy (`final`,
made when expanded), the views of an `AnnotatedTensor` whose tensor the registry does
not hold, and views of inference tensors (which keep no `_base`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch

from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._names.layout import DIRECTIONS, Axes
from .._names.named import Named
from .tensor_text import annotated_text, axes_shape, shaped

__all__ = ["COPY", "Child", "Deferred", "EvaluateName", "remember", "tensor_children"]

COPY = " · a copy, made when expanded"
_ANNOTATION = "__import__('bilstm_hooks').annotation_of({})"  # works whatever the frame imported

EvaluateName = str | Callable[[str], str] | None
"""A suffix for the parent's expression (`.shape[0]`), a function of it, or None."""

Child = tuple[str, object, EvaluateName]


class Deferred:
    """A child that would copy tensor data: shown by its text, made only when expanded.

    Its class is named after what it makes (`shows`: `Tensor`, `Unrolled`), the name a
    debugger's type column reads, not `Deferred`.
    """

    __slots__ = ("_make", "_value", "text")

    def __new__(cls, text: str, make: Callable[[], object], shows: str = "Tensor") -> Deferred:
        kind = _KINDS.get(shows)
        if kind is None:
            kind = _KINDS[shows] = type(shows, (Deferred,), {"__slots__": ()})
        return object.__new__(kind)

    def __init__(self, text: str, make: Callable[[], object], shows: str = "Tensor") -> None:
        self.text = text
        self._make: Callable[[], object] | None = make
        self._value: object = None

    def get(self) -> object:
        """The value, made on the first call."""
        if self._make is not None:
            self._value = self._make()
            self._make = None
        return self._value

    def __repr__(self) -> str:
        return self.text


_KINDS: dict[str, type[Deferred]] = {}  # `shows` -> the subclass of that name


def remember(tensor: torch.Tensor, named: Named) -> torch.Tensor:
    """Tag a copy made here (or a view nothing else names) with its names, weakly."""
    registry.tag(tensor, named)
    return tensor


class _View(NamedTuple):
    name: str
    op: str  # "select", "narrow", "unflatten" or "final"
    args: tuple[int, ...]
    suffix: str  # the expression that gives the view from its parent
    axes: Axes
    origin: str  # for a tag, where one is needed


class _Plan(NamedTuple):
    views: tuple[_View, ...]
    final: _View | None  # `final` of (layer direction) ...: op "final" or "select"
    dims: tuple[Child, ...]


def _slices(axis: int, last: int, index: str) -> str:
    """`[:, :, index]`, or `[..., index]` when `axis` is the last one."""
    return f"[..., {index}]" if axis == last and axis > 1 else f"[{':, ' * axis}{index}]"


def _select(axes: Axes, name: str, index: int, what: str, origin: str) -> _View:
    """The view at `name` = `index`, and the expression suffix that gives it."""
    g, group = next((g, group) for g, group in enumerate(axes.groups) if name in group)
    pos = group.index(name)
    size = axes.size_of
    rest = axes.without(name)
    where = f"{origin}.{what}" if what in DIRECTIONS else f"{origin}[{what}]"
    last = len(axes.groups) - 1
    if len(group) == 1:
        return _View(what, "select", (g, index), _slices(g, last, str(index)), rest, where)
    if pos == 0:  # the outer name of a fused axis: a contiguous block of it
        inner = axes_shape(axes)[g] // size[name]
        start = str(index * inner) if index else ""
        stop = str((index + 1) * inner) if index + 1 < size[name] else ""
        block = f"{start}:{stop}"
        return _View(
            what, "narrow", (g, index * inner, inner), _slices(g, last, block), rest, where
        )
    shape = tuple(size[n] for n in group)
    suffix = f".unflatten({g}, {shape})[{':, ' * (g + pos)}{index}]"
    return _View(what, "unflatten", (g, *shape, g + pos, index), suffix, rest, where)


@functools.lru_cache(maxsize=512)
def _plan(axes: Axes, origin: str, prefix: str) -> _Plan:
    size = axes.size_of
    views: list[_View] = []
    final = None
    if ("layer", "direction") in axes.groups:  # h_n, c_n: one row per layer and direction
        g = axes.groups.index(("layer", "direction"))
        layers, directions = size["layer"], size["direction"]
        rest = axes.without("layer").without("direction")
        last = len(axes.groups) - 1
        for layer in range(layers):
            for d in range(directions):
                row = layer * directions + d
                what = f"layer {layer} {DIRECTIONS[d]}" if directions == 2 else f"layer {layer}"
                suffix = _slices(g, last, str(row))
                views.append(_View(what, "select", (g, row), suffix, rest, f"{origin}[{what}]"))
        if g == 0 and rest.groups[-1:] == (("hidden",),):
            # the sequence representation: the last layer's rows, directions side by side
            groups = (*rest.groups[:-1], ("direction", "hidden"))
            joined = Axes.of(groups, size)
            if directions == 1:
                final = _View("final", "select", (0, -1), "[-1]", joined, f"{origin}.final")
            else:
                suffix = "[-2:].movedim(0, -2).flatten(-2)"
                final = _View("final", "final", (), suffix, joined, f"{origin}.final")
    else:
        if size.get("direction") == 2:
            views += [_select(axes, "direction", d, DIRECTIONS[d], origin) for d in (0, 1)]
        for layer in range(size.get("layer", 0)):
            views.append(_select(axes, "layer", layer, f"layer {layer}", origin))
    views = [view._replace(suffix=prefix + view.suffix) for view in views]
    if final is not None:
        final = final._replace(suffix=prefix + final.suffix)
    return _Plan(tuple(views), final, _dims(axes, prefix))


def _dims(axes: Axes, prefix: str) -> tuple[Child, ...]:
    """`batch = 4`, ...: each named size, with an expression that gives it."""
    size = axes.size_of
    items: list[Child] = []
    for g, group in enumerate(axes.groups):
        for name in group:
            if prefix == ".tensor":  # an AnnotatedTensor knows its sizes
                expr = f".sizes[{name!r}]"
            else:
                others = axes_shape(axes)[g] // size[name]
                expr = f".shape[{g}]" + (f" // {others}" if len(group) > 1 else "")
            items.append((name, size[name], expr))
    return tuple(items)


def _make(tensor: torch.Tensor, view: _View) -> torch.Tensor:
    args = view.args
    if view.op == "select":
        return tensor.select(args[0], args[1])
    if view.op == "narrow":
        return tensor.narrow(args[0], args[1], args[2])
    if view.op == "unflatten":
        whole: torch.Tensor = tensor.unflatten(args[0], args[1:-2])  # type: ignore[no-untyped-call]
        return whole.select(args[-2], args[-1])
    return tensor[-2:].movedim(0, -2).flatten(-2)  # "final": cat(h_n[-2], h_n[-1], -1), a copy


def _final_named(view: _View, annotated: AnnotatedTensor) -> Named:
    return Named(view.axes, view.origin, tuple(annotated.at.items()), (), annotated.lengths)


def _made(tensor: torch.Tensor, view: _View, annotated: AnnotatedTensor, tag: bool) -> object:
    made = _make(tensor, view)
    if view.name == "final":  # `batch (direction hidden)`, the sequence representation
        return remember(made, _final_named(view, annotated))
    # a view of an inference tensor has no `_base`: only the storage scan would find it
    return remember(made, Named(view.axes, view.origin)) if tag or made._base is None else made


def tensor_children(annotated: AnnotatedTensor, prefix: str = "") -> list[Child]:
    """Named views first (made, not copied), then each dim's size, then the annotation.

    `prefix` is `".tensor"` for an AnnotatedTensor shown itself, `""` for its tensor.
    """
    tensor = annotated.tensor
    plan = _plan(annotated.axes, annotated.origin, prefix)
    tag = False
    if prefix:  # named when read only if the registry holds the tensor, with these names
        held = annotation_of(tensor, shared=False)
        tag = held is None or held.axes != annotated.axes
    items: list[Child] = [(v.name, _made(tensor, v, annotated, tag), v.suffix) for v in plan.views]
    final = plan.final
    if final is not None:
        value: object
        if final.op == "select":
            value = _made(tensor, final, annotated, tag)
        else:
            text = shaped(annotated_text(final.axes, final.origin, tensor), final.axes) + COPY
            value = Deferred(text, functools.partial(_made, tensor, final, annotated, True))
        items.append(("final", value, final.suffix))
    items += plan.dims
    if not prefix:
        items.append(("pattern", annotated.pattern, None))
    for name in ("at", "notes", "lengths"):
        shown = getattr(annotated, name)
        if shown:
            expr = f".{name}" if prefix else _annotation_of(name)
            items.append((name, dict(shown) if name == "at" else shown, expr))
    return items


@functools.lru_cache(maxsize=8)
def _annotation_of(name: str) -> Callable[[str], str]:
    def expr(parent: str) -> str:
        return f"{_ANNOTATION.format(parent)}.{name}"

    return expr
