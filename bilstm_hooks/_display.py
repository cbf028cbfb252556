"""Text shown for annotated objects: describe(), and the reprs of Record and Recorder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn.utils.rnn import PackedSequence

from ._annotated import AnnotatedTensor

if TYPE_CHECKING:
    from ._record import Record
    from ._recorder import Recorder

__all__ = ["describe", "record_text", "recorder_text"]

_MAX_LENGTHS = 8


def _dtype(t: torch.Tensor) -> str:
    return f"{str(t.dtype).removeprefix('torch.')} {t.device}"


def _lengths(lengths: torch.Tensor) -> str:
    values = lengths[: _MAX_LENGTHS + 1].tolist()
    more = ", …" if len(values) > _MAX_LENGTHS else ""
    return f"[{', '.join(map(str, values[:_MAX_LENGTHS]))}{more}]"


def _sorted_lengths(packed: PackedSequence) -> torch.Tensor:
    from ._record import packed_lengths

    return packed_lengths(packed)


def describe(obj: object) -> str:
    """The one-line text debuggers and REPLs show for `obj`.

    Metadata only: no tensor data is read. For a tensor that no hooked module
    returned, a short shape/dtype line.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
        >>> out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
        >>> bh.describe(out)
        'batch=1 token=6 (direction=2 hidden=4) · encoder.out · float32 cpu'
    """
    from ._recorder import Recorder, annotation_of

    if isinstance(obj, AnnotatedTensor):
        origin = f" · {obj.origin}" if obj.origin else ""
        return f"{obj.axes.described()}{origin} · {_dtype(obj.tensor)}"
    if isinstance(obj, torch.Tensor | PackedSequence):
        annotated = annotation_of(obj)
        if annotated is None:
            data = obj.data if isinstance(obj, PackedSequence) else obj
            kind = "PackedSequence" if isinstance(obj, PackedSequence) else "tensor"
            return f"{kind} shape={tuple(data.shape)} · {_dtype(data)}"
        text = describe(annotated)
        if isinstance(obj, PackedSequence):
            text += f" · packed, lengths {_lengths(_sorted_lengths(obj))}"
        return text
    from ._record import Record

    if isinstance(obj, Record):
        return f"{obj.label}: {_module_line(obj)} · out {obj.layout.axes('out').described()}"
    if isinstance(obj, Recorder):
        called = sum(1 for name in obj.names if obj.calls(name))
        return f"Recorder: {len(obj)} hooked, {called} called ({', '.join(map(repr, obj.names))})"
    return repr(obj)


def _module_line(record: Record) -> str:
    layout = record.layout
    bits = [
        layout.kind,
        f"{layout.layers} layer{'s' if layout.layers > 1 else ''}",
        "bidirectional" if layout.directions == 2 else "unidirectional",
        f"batch_first={layout.batch_first}",
    ]
    if layout.h_out != layout.hidden:
        bits.append(f"proj_size={layout.h_out}")
    if layout.packed:
        bits.append("packed")
    elif not layout.batched:
        bits.append("unbatched")
    return ", ".join(bits)


def record_text(record: Record) -> str:
    layout = record.layout
    roles = ["input", "out", "h_n"] + (["c_n"] if layout.kind == "LSTM" else [])
    lines = [f"Record {record.label!r} ({_module_line(record)})"]
    for role in roles:
        axes = layout.axes(role)  # type: ignore[arg-type]
        lines.append(f"  {role:<7}{axes.pattern:<32}{axes.described()}")
    if record.lengths is not None:
        lines.append(f"  lengths {_lengths(record.lengths)}")
    return "\n".join(lines)


def recorder_text(recorder: Recorder) -> str:
    rows: list[tuple[str, ...]] = [("module", "kind", "calls", "out", "h_n", "c_n")]
    for name in recorder.names:
        module = recorder.modules[name]
        calls = recorder.calls(name)
        kept = recorder.records(name)
        if kept:
            layout = kept[-1].layout
            cells = [layout.axes("out").described(), layout.axes("h_n").described()]
            cells.append(layout.axes("c_n").described() if layout.kind == "LSTM" else "-")
        else:
            cells = ["(not called yet)" if not calls else "(cleared)", "", ""]
        rows.append((name or "<model>", type(module).__name__, str(calls), *cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    plural = "s" if len(recorder) != 1 else ""
    header = f"Recorder: {len(recorder)} hooked module{plural}, history={recorder.history}"
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([header, *table])
