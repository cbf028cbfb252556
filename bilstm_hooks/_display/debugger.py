"""What IDE debuggers show for annotated objects: a value line and ordered children.

Front-end neutral and metadata only: building a value or the children of a tensor
reads no tensor data (no reductions, no `.item()`, no device sync) and costs the
same whatever the tensor's size. Children that would cost a copy (the padded form
of a PackedSequence, the bidirectional `final` row) are `Deferred`: made when
expanded, never when merely shown. The children of a tensor (`_display.tensor_children`)
are named the way the same expression typed in a watch pane is.

A tuple or list gets a value line (`_display.collection_text`) when one of its first few items is
annotated, and never children of ours: the debugger lists its items, each ours or not.

`pydevd_plugins/extensions/pydevd_plugin_bilstm_hooks.py` adapts these functions
to pydevd, the debugger inside VS Code (debugpy) and PyCharm, through one entry point,
`plugin_entry()`, whose docstring is the plugin's contract. Anything that is not ours
gets None, so that a debugger keeps its default presentation.

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> from bilstm_hooks._display.debugger import children, value_text
    >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    >>> out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
    >>> value_text(out)  # bh.describe's line, and the plain shape: (direction hidden) is 8 wide
    'batch=1 token=6 (direction=2 hidden=4) · shape=(1, 6, 8) · encoder.out · float32 cpu'
    >>> [(name, expr) for name, _, expr in children(out).items][:2]
    [('forward', '[..., :4]'), ('backward', '[..., 4:]')]
    >>> value_text(torch.zeros(3)) is None
    True
    >>> value_text((out, (h_n, c_n)))[:60]
    '(batch=1 token=6 (direction=2 hidden=4) · encoder.out, ((lay'
    >>> value_text((1, torch.zeros(3))) is None
    True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.packed import packed_lengths_nosync
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._names.layout import Role
from .._names.named import Named
from .._recording.cell_record import CellRecord
from .._recording.cell_steps import CellSteps
from .._recording.record import Record
from .._recording.recorder import Recorder
from .._replay.unrolled import Unrolled
from .cell_debugger import cell_record_children, cell_steps_children, cell_value
from .collection_text import PLAIN_TENSORS, sequence_text
from .tensor_children import COPY, Child, Deferred, EvaluateName, remember, tensor_children
from .tensor_text import (
    annotated_text,
    packed_annotation,
    plain_note,
    plain_text,
    role_axes,
    shaped,
)
from .text import describe
from .unrolled_text import unrolled_children, unrolled_value

__all__ = [
    "Child", "Children", "Deferred", "EvaluateName", "PluginEntry", "children", "claims",
    "plugin_entry", "value_text",
]  # fmt: skip

_PADDED = " · padded copy, made when expanded"
# works whatever the user's frame imported
_PAD = "__import__('torch').nn.utils.rnn.pad_packed_sequence"


class Children(NamedTuple):
    """Ordered children, then the object whose usual attributes follow them (None: no more)."""

    items: list[Child]
    rest: object | None


# -- the two entry points --------------------------------------------------------------


def value_text(obj: object) -> str | None:
    """The value line of `obj`: the text of `bh.describe()` (for a tensor whose axis fuses
    names, with its plain shape after them), or None when it is not ours."""
    if type(obj) in (tuple, list):  # first: most of those shown are not ours
        return sequence_text(obj)
    if isinstance(obj, Deferred):
        return obj.text
    if issubclass(type(obj), torch.Tensor):
        if type(obj) not in PLAIN_TENSORS:  # a user's subclass: its __torch_function__ would run
            return None
        assert isinstance(obj, torch.Tensor)
        found = annotation_of(obj)
        if found is None:  # changed in place, or a view that mixes named dims: say so
            note = plain_note(obj)
            return plain_text(obj, note) if note else None
        return shaped(describe(found), found.axes)
    if isinstance(obj, PackedSequence):
        return None if packed_annotation(obj) is None else describe(obj)
    if isinstance(obj, AnnotatedTensor):
        return shaped(describe(obj), obj.axes)
    if isinstance(obj, Record | Recorder):
        return describe(obj)
    if isinstance(obj, Unrolled):
        return unrolled_value(obj)
    return cell_value(obj) if isinstance(obj, CellRecord | CellSteps) else None


def children(obj: object) -> Children | None:
    """Named views first, then dims, then (via `rest`) the usual attributes; None if not ours.

    A tuple or list is never ours here: its items are, each shown by the debugger.
    """
    if isinstance(obj, Deferred):
        value = obj.get()
        return children(value) or Children([], value)
    if issubclass(type(obj), torch.Tensor):
        if type(obj) not in PLAIN_TENSORS:  # as in value_text: never touched
            return None
        assert isinstance(obj, torch.Tensor)
        found = annotation_of(obj)
        if found is None:
            return None
        return Children(tensor_children(found), obj)
    if isinstance(obj, PackedSequence):
        return _packed_children(obj)
    if isinstance(obj, AnnotatedTensor):
        return Children(tensor_children(obj, ".tensor"), obj)
    if isinstance(obj, Record):
        return Children(_record_children(obj), None)
    if isinstance(obj, Unrolled):  # listed: reading its attributes may replay
        return Children(unrolled_children(obj), None)
    if isinstance(obj, Recorder):
        return Children(_recorder_children(obj), obj)
    if isinstance(obj, CellRecord):
        return Children(cell_record_children(obj), None)
    return Children(cell_steps_children(obj), None) if isinstance(obj, CellSteps) else None


# -- the pydevd plugin's one entry point ------------------------------------------------

# the package's own types whose objects value_text and children describe: by identity,
# never a subclass (a user's subclass of ours may read differently)
_CLAIMED = (AnnotatedTensor, Record, Recorder, Unrolled, Deferred, CellRecord, CellSteps)


def claims(type_object: type) -> bool:
    """Whether objects of `type_object`, a type of this package, get a value line or children.

    Only this package's own types are answered here; plain tensors, Parameters,
    PackedSequences, tuples and lists exist before the package is imported, and the
    plugin claims those itself (see `plugin_entry`).
    """
    return type_object in _CLAIMED or issubclass(type_object, Deferred)  # named as it shows


class PluginEntry(NamedTuple):
    """What the pydevd plugin calls; see `plugin_entry` for the contract of each."""

    claims: Callable[[type], bool]
    value_text: Callable[[object], str | None]
    children: Callable[[object], Children | None]


def plugin_entry() -> PluginEntry:
    """The pydevd plugin's one way into the package: its whole contract.

    `pydevd_plugins/extensions/pydevd_plugin_bilstm_hooks.py` looks up this function,
    `bilstm_hooks._display.debugger.plugin_entry`, and nothing else of the package, once
    the program being debugged has imported `bilstm_hooks`, and calls it for each request.
    The name, the module and the fields below are kept stable across releases: fields
    may be added, none is removed or changes meaning, and the plugin reads them by name.

    - `claims(type_object) -> bool`: whether the plugin should claim a type of this
      package (pydevd asks once per type and caches the answer); False for any other
      type. Plain `torch.Tensor`, `torch.nn.Parameter`, `PackedSequence`, `tuple` and
      `list` are claimed by the plugin itself, by identity or torch's own name, since
      pydevd may ask about them before the program imports the package.
    - `value_text(obj) -> str | None`: the value line (the text of `bh.describe()`, or
      the names of the annotated items of a tuple or list); None: not ours, the
      debugger's own line stays.
    - `children(obj) -> Children | None`: `Children.items`, a list of `(name, value,
      evaluate_name)` (`evaluate_name`: a suffix for the parent's expression, a function
      of it, or None), then `Children.rest`, the object whose usual attributes follow
      (None: no more); None: not ours, the debugger's own children stay. Never ours for
      a tuple or list.

    None of them reads tensor data, except that the children of a `Deferred` make its
    value (a copy, only when that child is expanded). Each may raise: the plugin turns an
    exception into the debugger's default presentation.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> from bilstm_hooks._display.debugger import plugin_entry
        >>> entry = plugin_entry()
        >>> entry.claims(bh.AnnotatedTensor), entry.claims(bh.Axes), entry.claims(str)
        (True, False, False)
        >>> entry.value_text(torch.zeros(3)) is None, entry.children(torch.zeros(3)) is None
        (True, True)
    """
    return PluginEntry(claims, value_text, children)


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
        padded, lengths = pad_packed_sequence(packed, batch_first=batch_first)
        return remember(padded, Named(axes, origin, lengths=tuple(lengths.tolist())))

    text = shaped(annotated_text(axes, origin, packed.data), axes) + _PADDED
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
        raw = record.raw(role)
        value: object
        if isinstance(raw, PackedSequence) and role not in record.__dict__:  # not padded yet
            axes = role_axes(layout, role)
            text = shaped(annotated_text(axes, f"{record.label}.{role}", raw.data), axes)
            make = functools.partial(getattr, record, role)
            value = Deferred(text + _PADDED, make, "AnnotatedTensor")
        else:
            value = getattr(record, role)
        items.append((role, value, f".{role}"))
    raw_out = record.raw("out")
    if isinstance(raw_out, PackedSequence) and "lengths" not in record.__dict__:
        lengths, in_order = packed_lengths_nosync(raw_out)
        name, expr = ("lengths", ".lengths") if in_order else ("lengths (longest first)", None)
        items.append((name, lengths, expr))
    else:
        items.append(("lengths", record.lengths, ".lengths"))
    final = role_axes(layout, "out").without("token")
    where = f"{record.label}.final"

    def make_final() -> torch.Tensor:
        return remember(record.final(), Named(final, where))

    h_n = record.raw("h_n")
    assert isinstance(h_n, torch.Tensor)
    text = annotated_text(final, where, h_n) + COPY
    items.append(("final", Deferred(text, make_final), ".final()"))
    items.append(("layers", _layers(record), ".unroll()"))
    items += [("module", record.module, ".module"), ("layout", layout, ".layout")]
    return items


def _layers(record: Record) -> object:
    """Every layer and direction at every token: the replay, run only when expanded."""
    from .._replay.recurrence import refusal

    reason = refusal(record)
    if reason is not None:  # a call that cannot be replayed: say why, compute nothing
        return reason
    layout = record.layout
    text = f"{layout.layers} layer{'s' if layout.layers > 1 else ''} × {layout.directions} "
    text += (
        f"direction{'s' if layout.directions > 1 else ''} at every token · replayed when expanded"
    )
    return Deferred(text, record.unroll, "Unrolled")


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
