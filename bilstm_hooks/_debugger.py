"""What IDE debuggers show for annotated objects: a value line and ordered children.

Front-end neutral and metadata only: building a value or the children of a tensor
reads no tensor data (no reductions, no `.item()`, no device sync) and costs the
same whatever the tensor's size. Children that would cost a copy (the padded form
of a PackedSequence, the bidirectional `final` row) are `Deferred`: made when
expanded, never when merely shown.

`pydevd_plugins/extensions/pydevd_plugin_bilstm_hooks.py` adapts these functions
to pydevd, the debugger inside VS Code (debugpy) and PyCharm. Anything that is
not ours gets None, so that a debugger keeps its default presentation.

Example:
    >>> import torch, bilstm_hooks as bh
    >>> from bilstm_hooks._debugger import children, value_text
    >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    >>> out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
    >>> value_text(out)
    'batch=1 token=6 (direction=2 hidden=4) · encoder.out · float32 cpu'
    >>> [(name, expr) for name, _, expr in children(out).items][:2]
    [('forward', '[..., :4]'), ('backward', '[..., 4:]')]
    >>> value_text(torch.zeros(3)) is None
    True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from . import _registry
from ._annotated import AnnotatedTensor
from ._display import (
    annotated_text,
    axes_shape,
    describe,
    packed_annotation,
    role_axes,
    stale_note,
)
from ._identity import annotation_of
from ._layout import Axes, Role
from ._record import Record, packed_lengths_nosync
from ._recorder import Recorder
from ._registry import Named
from ._unroll import Unrolled
from ._unroll_text import unrolled_children, unrolled_value

__all__ = ["Child", "Children", "Deferred", "EvaluateName", "children", "value_text"]

_DIRECTIONS = ("forward", "backward")
_COPY = " · a copy, made when expanded"
_PADDED = " · padded copy, made when expanded"
# works whatever the user's frame imported
_PAD = "__import__('torch').nn.utils.rnn.pad_packed_sequence"

EvaluateName = str | Callable[[str], str] | None
"""A suffix for the parent's expression (`.shape[0]`), a function of it, or None."""

Child = tuple[str, object, EvaluateName]


class Children(NamedTuple):
    """Ordered children, then the object whose usual attributes follow them (None: no more)."""

    items: list[Child]
    rest: object | None


class Deferred:
    """A child that would copy tensor data: shown by its text, made only when expanded."""

    __slots__ = ("_make", "_value", "text")

    def __init__(self, text: str, make: Callable[[], object]) -> None:
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


# -- annotations of the views made here ------------------------------------------------
# Views and copies handed to a debugger are tagged in the registry with their own
# names (`encoder.out.forward`), so that the one lookup of `_identity` finds them too.


def _remember(tensor: torch.Tensor, axes: Axes, origin: str) -> torch.Tensor:
    _registry.tag(tensor, Named(axes, origin))
    return tensor


# -- the two entry points --------------------------------------------------------------


def value_text(obj: object) -> str | None:
    """The value line of `obj`: the text of `bh.describe()`, or None when it is not ours."""
    if isinstance(obj, Deferred):
        return obj.text
    if isinstance(obj, torch.Tensor):
        found = annotation_of(obj)
        if found is None:  # changed in place since it was tagged: say so, name nothing
            return describe(obj) if stale_note(obj) else None
        return describe(found)
    if isinstance(obj, PackedSequence):
        return None if packed_annotation(obj) is None else describe(obj)
    if isinstance(obj, AnnotatedTensor | Record | Recorder):
        return describe(obj)
    if isinstance(obj, Unrolled):
        return unrolled_value(obj)
    return None


def children(obj: object) -> Children | None:
    """Named views first, then dims, then (via `rest`) the usual attributes; None if not ours."""
    if isinstance(obj, Deferred):
        value = obj.get()
        return children(value) or Children([], value)
    if isinstance(obj, torch.Tensor):
        found = annotation_of(obj)
        if found is None:
            return None
        plan = _plan(found.axes, found.origin, "")
        return Children([*_views_of(obj, plan), *plan.dims, ("pattern", found.pattern, None)], obj)
    if isinstance(obj, PackedSequence):
        return _packed_children(obj)
    if isinstance(obj, AnnotatedTensor):
        plan = _plan(obj.axes, obj.origin, ".tensor")
        return Children([*_views_of(obj.tensor, plan), *plan.dims], obj)
    if isinstance(obj, Record):
        return Children(_record_children(obj), None)
    if isinstance(obj, Unrolled):  # listed: reading its attributes may replay
        return Children(unrolled_children(obj), None)
    if isinstance(obj, Recorder):
        return Children(_recorder_children(obj), obj)
    return None


# -- tensors: a plan per layout, remembered; each call makes only the views --------------


class _View(NamedTuple):
    name: str
    op: str  # "select", "narrow" or "unflatten"
    args: tuple[int, ...]
    suffix: str  # the expression that gives the view from its parent
    axes: Axes
    origin: str


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
    where = f"{origin}.{what}" if what in _DIRECTIONS else f"{origin}[{what}]"
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
                what = f"layer {layer} {_DIRECTIONS[d]}" if directions == 2 else f"layer {layer}"
                suffix = _slices(g, last, str(row))
                views.append(_View(what, "select", (g, row), suffix, rest, f"{origin}[{what}]"))
        if g == 0 and rest.groups[-1:] == (("hidden",),):
            # the sequence representation: the last layer's rows, directions side by side
            groups = (*rest.groups[:-1], ("direction", "hidden"))
            joined = Axes(groups, tuple((n, size[n]) for group in groups for n in group))
            if directions == 1:
                final = _View("final", "select", (0, -1), "[-1]", joined, f"{origin}.final")
            else:
                suffix = "[-2:].movedim(0, -2).flatten(-2)"
                final = _View("final", "final", (), suffix, joined, f"{origin}.final")
    else:
        if size.get("direction") == 2:
            views += [_select(axes, "direction", d, _DIRECTIONS[d], origin) for d in (0, 1)]
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
        made = tensor.select(args[0], args[1])
    elif view.op == "narrow":
        made = tensor.narrow(args[0], args[1], args[2])
    elif view.op == "unflatten":
        made = tensor.unflatten(args[0], args[1:-2]).select(args[-2], args[-1])  # type: ignore[no-untyped-call]
    else:  # "final": cat(h_n[-2], h_n[-1], dim=-1), a copy
        made = tensor[-2:].movedim(0, -2).flatten(-2)
    return _remember(made, view.axes, view.origin)


def _views_of(tensor: torch.Tensor, plan: _Plan) -> list[Child]:
    items: list[Child] = [(v.name, _make(tensor, v), v.suffix) for v in plan.views]
    final = plan.final
    if final is not None:
        value: object
        if final.op == "select":
            value = _make(tensor, final)
        else:
            text = annotated_text(final.axes, final.origin, tensor) + _COPY
            value = Deferred(text, functools.partial(_make, tensor, final))
        items.append(("final", value, final.suffix))
    return items


# -- packed sequences, records, recorders -----------------------------------------------


def _packed_children(packed: PackedSequence) -> Children | None:
    found = packed_annotation(packed)
    if found is None:
        return None
    axes, origin = found
    batch_first = axes.groups[0] == ("batch",)
    lengths, in_order = packed_lengths_nosync(packed)
    items: list[Child] = []
    if in_order:
        items.append(("lengths", lengths, lambda parent: f"{_PAD}({parent})[1]"))
    else:
        items.append(("lengths (longest first)", lengths, None))

    def make() -> torch.Tensor:
        padded, _ = pad_packed_sequence(packed, batch_first=batch_first)
        return _remember(padded, axes, origin)

    text = annotated_text(axes, origin, packed.data) + _PADDED
    items.append(
        ("padded", Deferred(text, make), lambda p: f"{_PAD}({p}, batch_first={batch_first})[0]")
    )
    return Children(items, packed)


def _record_children(record: Record) -> list[Child]:
    """Everything a record holds, reading none of it: packed tensors are Deferred."""
    layout = record.layout
    items: list[Child] = [("name", record.name, ".name"), ("kind", record.kind, ".kind")]
    roles: tuple[Role, ...] = ("out", "h_n", "c_n", "input")
    if layout.kind != "LSTM":
        roles = ("out", "h_n", "input")
    for role in roles:
        raw = getattr(record, f"_raw_{role}")
        value: object
        if isinstance(raw, PackedSequence) and role not in record.__dict__:  # not padded yet
            text = annotated_text(role_axes(layout, role), f"{record.label}.{role}", raw.data)
            value = Deferred(text + _PADDED, functools.partial(getattr, record, role))
        else:
            value = getattr(record, role)
        items.append((role, value, f".{role}"))
    if isinstance(record._raw_out, PackedSequence) and "lengths" not in record.__dict__:
        lengths, in_order = packed_lengths_nosync(record._raw_out)
        name, expr = ("lengths", ".lengths") if in_order else ("lengths (longest first)", None)
        items.append((name, lengths, expr))
    else:
        items.append(("lengths", record.lengths, ".lengths"))
    final = _final_axes(role_axes(layout, "out"))
    where = f"{record.label}.final"

    def make_final() -> torch.Tensor:
        return _remember(record.final(), final, where)

    text = annotated_text(final, where, record._raw_h_n) + _COPY
    items.append(("final", Deferred(text, make_final), ".final()"))
    items.append(("layers", _layers(record), ".unroll()"))
    items += [("module", record.module, ".module"), ("layout", layout, ".layout")]
    return items


def _layers(record: Record) -> object:
    """Every layer and direction at every token: the replay, run only when expanded."""
    from ._replay import refusal

    reason = refusal(record)
    if reason is not None:  # a call that cannot be replayed: say why, compute nothing
        return reason
    layout = record.layout
    text = f"{layout.layers} layer{'s' if layout.layers > 1 else ''} × {layout.directions} "
    text += (
        f"direction{'s' if layout.directions > 1 else ''} at every token · replayed when expanded"
    )
    return Deferred(text, record.unroll)


@functools.lru_cache(maxsize=256)
def _final_axes(out: Axes) -> Axes:
    return out.without("token")


def _recorder_children(recorder: Recorder) -> list[Child]:
    """The latest record of every hooked module, keyed as `rec[...]` takes them."""
    items: list[Child] = []
    for name in recorder.names:
        kept = recorder.records(name)
        value: object = (
            kept[-1] if kept else ("(cleared)" if recorder.calls(name) else "(not called yet)")
        )
        items.append((repr(name), value, f"[{name!r}]"))
    return items
