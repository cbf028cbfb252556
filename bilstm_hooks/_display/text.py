"""Text shown for annotated objects: describe(), and the reprs of Record and Recorder
(registered as their views, `_core.providers`)."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence

from .._base.dtypes import dtype_and_device
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._core.providers import provides
from .._names.layout import label_of, quoted_label_of
from .._recording.cell_record import CellRecord
from .._recording.record import Record
from .._recording.recorder import Recorder
from .cell_text import cell_line
from .collection_text import sequence_text
from .tensor_text import (
    annotated_text,
    axes_text,
    packed_annotation,
    packed_lengths_text,
    plain_text,
    role_axes,
)

__all__ = ["describe", "module_line", "record_text", "recorder_text"]


@provides("describe")
def describe(obj: object) -> str:
    """The one-line text debuggers and REPLs show for `obj`.

    Metadata only: no tensor data is read. A view says where it was taken, then its
    notes and lengths; a tuple or list of annotated tensors names each of its first
    items. For a tensor that is not annotated, a short shape/dtype line (saying why,
    for a view of an annotated tensor that cannot be named).

    Examples:
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
    if isinstance(obj, AnnotatedTensor):
        return annotated_text(obj.axes, obj.origin, obj.tensor, obj)
    if isinstance(obj, PackedSequence):
        # not annotation_of(): it pads, and the order of the lengths may sit on a GPU
        found = packed_annotation(obj)
        if found is None:
            return f"PackedSequence shape={tuple(obj.data.shape)} · {dtype_and_device(obj.data)}"
        return f"{annotated_text(*found, obj.data)} · packed, lengths {packed_lengths_text(obj)}"
    if isinstance(obj, torch.Tensor):
        annotated = None if obj.is_nested else annotation_of(obj)  # never a layer's output
        if annotated is None:
            return plain_text(obj)
        return describe(annotated)
    if type(obj) in (tuple, list):
        return sequence_text(obj) or repr(obj)

    if isinstance(obj, CellRecord):
        return cell_line(obj)
    if isinstance(obj, Record):
        return f"{obj.label}: {module_line(obj)} · out {axes_text(role_axes(obj.layout, 'out'))}"
    if isinstance(obj, Recorder):
        modules = obj.modules
        called = [quoted_label_of(n, modules[n]) for n in obj.names if obj.calls(n)]
        hooked = f"{len(obj)} hooked" if obj.hooked else f"hooks removed from {len(obj)}"
        return f"Recorder: {hooked}, {len(called)} called" + (
            f" ({', '.join(called)})" if called else ""
        )
    return repr(obj)


def module_line(record: Record) -> str:
    return record.layout.describe_module()


@provides("record text")
def record_text(record: Record) -> str:
    layout = record.layout
    roles = ["input", "out", "h_n"] + (["c_n"] if layout.kind == "LSTM" else [])
    lines = [f"Record {record.label!r} ({module_line(record)})"]
    for role in roles:
        axes = layout.axes(role)  # type: ignore[arg-type]
        lines.append(f"  {role:<7}{axes.pattern:<32}{axes.described()}")
    raw = record.raw("out")
    if isinstance(raw, PackedSequence):
        lines.append(f"  lengths {packed_lengths_text(raw)}")
    return "\n".join(lines)


@provides("recorder text")
def recorder_text(recorder: Recorder) -> str:
    latest = {name: recorder.records(name)[-1:] for name in recorder.names}
    # c_n gets a column only where it differs from h_n: an LSTM with proj_size
    with_c_n = any(
        isinstance(r, Record) and r.layout.hidden != r.layout.h_out
        for kept in latest.values()
        for r in kept
    )
    rows: list[tuple[str, ...]] = [("module", "kind", "calls", "out", "h_n")]
    if with_c_n:
        rows[0] += ("c_n",)
    for name, kept in latest.items():
        module = recorder.modules[name]
        calls = recorder.calls(name)
        newest = kept[0] if kept else None
        if isinstance(newest, CellRecord):  # the loop's h, then the latest step's
            cell, steps = newest.layout, newest.steps()
            loop = steps.layout.steps_axes("h", len(steps)).described()
            cells = [f"h {loop}", f"h {cell.axes('h').described()} · step {newest.step}"]
            cells += [
                f"c {cell.axes('c').described()}" if cell.kind == "LSTMCell" else "-"
            ] * with_c_n
        elif newest is not None:
            layout = newest.layout
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
