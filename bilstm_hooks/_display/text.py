"""Text shown for annotated objects: describe(), and the reprs of Record and Recorder."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
from torch.nn.utils.rnn import PackedSequence

from .._base.packed import packed_lengths_nosync
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._names.derive import Geometry, Underivable, derive, geometry_of
from .._names.layout import DIRECTIONS, Axes, Layout, Role, label_of, quoted_label_of

if TYPE_CHECKING:
    from .._recording.record import Record
    from .._recording.recorder import Recorder

__all__ = [
    "annotated_text",
    "axes_shape",
    "describe",
    "lengths_text",
    "packed_annotation",
    "plain_note",
    "plain_text",
    "positions_text",
    "record_text",
    "recorder_text",
    "role_axes",
    "shape_text",
    "stale_note",
]

_MAX_LENGTHS = 8


def _dtype(t: torch.Tensor) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {t.device}"


def _lengths(packed: PackedSequence) -> str:
    """`[4, 6, 2]`, at most `_MAX_LENGTHS` of them, from `batch_sizes`: no pad, no device sync."""
    lengths, in_order = packed_lengths_nosync(packed, _MAX_LENGTHS + 1)
    values = lengths.tolist()
    more = ", …" if len(values) > _MAX_LENGTHS else ""
    note = "" if in_order else " (longest first)"
    return f"[{', '.join(map(str, values[:_MAX_LENGTHS]))}{more}]{note}"


@functools.lru_cache(maxsize=1024)
def role_axes(layout: Layout, role: Role) -> Axes:
    """`layout.axes(role)`, remembered: debuggers ask again at every pause."""
    return layout.axes(role)


@functools.lru_cache(maxsize=1024)
def _described(axes: Axes) -> str:
    return axes.described()


@functools.lru_cache(maxsize=1024)
def axes_shape(axes: Axes) -> tuple[int, ...]:
    """`axes.shape`, remembered."""
    return axes.shape


def stale_note(tensor: torch.Tensor) -> str:
    """` · was encoder.out, changed in place since: its names may be stale`, or ""."""
    origin = registry.stale_origin(tensor)
    if origin is None:
        return ""
    return f" · was {origin}, changed in place since: its names may be stale"


def unnamed_note(tensor: torch.Tensor) -> str:
    """` · a view of encoder.h_n, unnamed: an axis of size 6 mixes layer and batch`, or "".

    For a view of an annotated tensor whose axes cannot be named (a `view` that mixes
    `batch` into `(layer direction)`, say): metadata only, no tensor data read.
    """
    from .._core.compose import named_of

    found = registry.find(tensor)
    base = tensor._base
    if found is None or found[2] or base is None:
        return ""  # not a view of a tagged tensor (a tagged one is stale: stale_note)
    value, geometry, _ = found
    if isinstance(value, registry.Tag) and value.packed:
        return ""
    named = named_of(value)
    reason = _why_unnamed(named.axes, geometry or geometry_of(base), geometry_of(tensor))
    if reason is None:
        return ""
    return f" · a view of {named.origin or 'an annotated tensor'}, unnamed: {reason}"


@functools.lru_cache(maxsize=1024)
def _why_unnamed(axes: Axes, base: Geometry, view: Geometry) -> str | None:
    derived = derive(axes, base, view)
    return derived.reason if isinstance(derived, Underivable) else None


def plain_note(tensor: torch.Tensor) -> str:
    """Why a tensor that `annotation_of` does not name is still worth a word, else ""."""
    return stale_note(tensor) or unnamed_note(tensor)


def shape_text(tensor: torch.Tensor) -> str:
    """`tensor shape=(6, 8)`; a nested tensor has no one shape: `nested tensor, 2 components`."""
    if tensor.is_nested:
        count = tensor.size(0)
        return f"nested tensor, {count} component{'' if count == 1 else 's'}"
    return f"tensor shape={tuple(tensor.shape)}"


def plain_text(tensor: torch.Tensor, note: str | None = None) -> str:
    """`tensor shape=(6, 8) · float32 cpu`, then its `plain_note` (given, or found)."""
    if note is None:
        note = "" if tensor.is_nested else plain_note(tensor)
    return f"{shape_text(tensor)} · {_dtype(tensor)}{note}"


def positions_text(at: dict[str, int]) -> str:
    """`layer 1, backward, token 5`: where the dims indexed away were taken."""
    parts = []
    for name, position in at.items():
        if name == "direction":
            parts.append(DIRECTIONS[position] if position < 2 else f"direction {position}")
        elif name == "batch":
            parts.append(f"sequence {position}")
        else:
            parts.append(f"{name} {position}")
    return ", ".join(parts)


def lengths_text(lengths: tuple[int, ...]) -> str:
    """`[4, 6, 2]`: at most the first eight."""
    more = ", …" if len(lengths) > _MAX_LENGTHS else ""
    return f"[{', '.join(map(str, lengths[:_MAX_LENGTHS]))}{more}]"


def annotated_text(
    axes: Axes,
    origin: str,
    tensor: torch.Tensor,
    annotated: AnnotatedTensor | None = None,
) -> str:
    """`batch=4 token=12 (direction=2 hidden=64) · encoder.out · float32 cpu`, then where a
    view was taken (`encoder.h_n: layer 1, backward`), its notes and lengths."""
    where = f" · {origin}" if origin else ""
    tail = ""
    if annotated is not None:
        if annotated.at:
            where += (
                f": {positions_text(annotated.at)}"
                if origin
                else f" · {positions_text(annotated.at)}"
            )
        if annotated.notes:
            tail += f" · {'; '.join(annotated.notes)}"
        if annotated.lengths is not None:
            tail += f" · lengths {lengths_text(annotated.lengths)}"
    return f"{_described(axes)}{where} · {_dtype(tensor)}{tail}"


def packed_annotation(packed: PackedSequence) -> tuple[Axes, str] | None:
    """Named axes (of the padded form) and origin of a PackedSequence a hooked module returned.

    Metadata only, unlike `annotation_of`, which pads: None for any other PackedSequence.
    """
    found = registry.lookup(packed.data)
    if found is None or not found.packed:
        return None
    axes = role_axes(found.layout, found.role)
    if (
        packed.batch_sizes.shape[0] != found.layout.tokens
        or tuple(packed.data.shape[1:]) != axes_shape(axes)[2:]
    ):
        return None
    return axes, found.origin


def describe(obj: object) -> str:
    """The one-line text debuggers and REPLs show for `obj`.

    Metadata only: no tensor data is read. A view says where it was taken, then its
    notes and lengths; a tuple or list of annotated tensors names each of its first
    items. For a tensor that is not annotated, a short shape/dtype line (saying why,
    for a view of an annotated tensor that cannot be named).

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
        >>> out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
        >>> bh.describe(out)
        'batch=1 token=6 (direction=2 hidden=4) · encoder.out · float32 cpu'
        >>> out, (h_n, c_n) = lstm(torch.randn(2, 6, 3))
        >>> bh.describe(h_n[-1])
        'batch=2 hidden=4 · encoder.h_n: backward · float32 cpu · backward direction only'
        >>> bh.describe([h_n.transpose(0, 1), 3])
        '[batch=2 (layer=1 direction=2) hidden=4 · encoder.h_n, 3] · float32 cpu'
    """
    from .._core.lookup import annotation_of
    from .._recording.recorder import Recorder
    from .collection_text import sequence_text

    if isinstance(obj, AnnotatedTensor):
        return annotated_text(obj.axes, obj.origin, obj.tensor, obj)
    if isinstance(obj, PackedSequence):
        # not annotation_of(): it pads, and the order of the lengths may sit on a GPU
        found = packed_annotation(obj)
        if found is None:
            return f"PackedSequence shape={tuple(obj.data.shape)} · {_dtype(obj.data)}"
        return f"{annotated_text(*found, obj.data)} · packed, lengths {_lengths(obj)}"
    if isinstance(obj, torch.Tensor):
        annotated = None if obj.is_nested else annotation_of(obj)  # never a layer's output
        if annotated is None:
            return plain_text(obj)
        return describe(annotated)
    if type(obj) in (tuple, list):
        return sequence_text(obj) or repr(obj)
    from .._recording.record import Record

    if isinstance(obj, Record):
        return f"{obj.label}: {_module_line(obj)} · out {_described(role_axes(obj.layout, 'out'))}"
    if isinstance(obj, Recorder):
        modules = obj.modules
        called = [quoted_label_of(n, modules[n]) for n in obj.names if obj.calls(n)]
        hooked = f"{len(obj)} hooked" if obj.hooked else f"hooks removed from {len(obj)}"
        return f"Recorder: {hooked}, {len(called)} called" + (
            f" ({', '.join(called)})" if called else ""
        )
    return repr(obj)


def _module_line(record: Record) -> str:
    return record.layout.describe_module()


def record_text(record: Record) -> str:
    layout = record.layout
    roles = ["input", "out", "h_n"] + (["c_n"] if layout.kind == "LSTM" else [])
    lines = [f"Record {record.label!r} ({_module_line(record)})"]
    for role in roles:
        axes = layout.axes(role)  # type: ignore[arg-type]
        lines.append(f"  {role:<7}{axes.pattern:<32}{axes.described()}")
    if isinstance(record._raw_out, PackedSequence):
        lines.append(f"  lengths {_lengths(record._raw_out)}")
    return "\n".join(lines)


def recorder_text(recorder: Recorder) -> str:
    latest = {name: recorder.records(name)[-1:] for name in recorder.names}
    # c_n gets a column only where it differs from h_n: an LSTM with proj_size
    with_c_n = any(r.layout.hidden != r.layout.h_out for kept in latest.values() for r in kept)
    rows: list[tuple[str, ...]] = [("module", "kind", "calls", "out", "h_n")]
    if with_c_n:
        rows[0] += ("c_n",)
    for name, kept in latest.items():
        module = recorder.modules[name]
        calls = recorder.calls(name)
        if kept:
            layout = kept[0].layout
            cells = [layout.axes("out").described(), layout.axes("h_n").described()]
            if with_c_n:
                cells.append(layout.axes("c_n").described() if layout.kind == "LSTM" else "-")
        else:
            cells = ["(not called yet)" if not calls else "(cleared)", ""]
            cells += [""] * with_c_n
        rows.append((label_of(name, module), type(module).__name__, str(calls), *cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    plural = "s" if len(recorder) != 1 else ""
    hooked = "hooked module" if recorder.hooked else "module"
    removed = "" if recorder.hooked else ", hooks removed"
    header = f"Recorder: {len(recorder)} {hooked}{plural}{removed}, history={recorder.history}"
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([header, *table])
