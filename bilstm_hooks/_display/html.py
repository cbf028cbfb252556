"""Notebook views: the HTML reprs of records, recorders and annotated tensors.

The SVG diagram of a call is in `_diagram.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from .._core.annotated import AnnotatedTensor
from .._names.layout import label_of
from .diagram import diagram
from .text import _module_line, lengths_text, positions_text

if TYPE_CHECKING:
    from .._recording.record import Record
    from .._recording.recorder import Recorder

__all__ = ["annotated_html", "record_html", "recorder_html"]

_BOX = (
    'style="font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; '
    'font-size: 12px; line-height: 1.5"'
)
_CHIP = 'style="background: #eef3fb; border-radius: 3px; padding: 0 3px"'


# -- HTML --------------------------------------------------------------------------------
def _dims_html(tensor: AnnotatedTensor) -> str:
    return tensor.axes.grouped(lambda name, size: f"<span {_CHIP}>{escape(name)}={size}</span>")


def annotated_html(tensor: AnnotatedTensor) -> str:
    """`AnnotatedTensor` as HTML: named sizes; pattern, origin and where it was taken
    (`encoder.h_n: layer 1, backward`), dtype and shape; its notes and lengths."""
    t = tensor.tensor
    origin = f" · {escape(tensor.origin)}" if tensor.origin else ""
    if tensor.at:
        origin += f"{':' if origin else ' ·'} {escape(positions_text(tensor.at))}"
    dtype = f"{str(t.dtype).removeprefix('torch.')} {t.device}"
    extra = [escape(note) for note in tensor.notes]
    if tensor.lengths is not None:
        extra.append(f"lengths {lengths_text(tensor.lengths)}")
    notes = "".join(f'<br><span style="color: #8a4b00">{line}</span>' for line in extra)
    return (
        f"<div {_BOX}><b>AnnotatedTensor</b> {_dims_html(tensor)}"
        f'<br><span style="color: #666"><code>{escape(tensor.pattern)}</code>{origin} · '
        f"{dtype} · shape {tuple(t.shape)}</span>{notes}</div>"
    )


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    cell = 'style="text-align: left; padding: 1px 12px 1px 0; white-space: nowrap"'
    head = "".join(f"<th {cell}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {cell}>{c}</td>" for c in row) + "</tr>" for row in rows)
    table = 'style="border-collapse: collapse; font-size: inherit; margin: 4px 0"'
    return f"<table {table}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def record_html(record: Record) -> str:
    """`Record` as HTML: the module line, a table of the annotated tensors, the diagram."""
    roles = ("input", "out", "h_n") + (("c_n",) if record.kind == "LSTM" else ())
    rows = []
    for role in roles:
        tensor: AnnotatedTensor = getattr(record, role)
        rows.append(
            (
                f"<code>{role}</code>",
                f"<code>{escape(tensor.pattern)}</code>",
                _dims_html(tensor),
                str(tuple(tensor.shape)),
            )
        )
    lengths = ""
    if record.lengths is not None:
        lengths = f"<div>packed, lengths {record.lengths.tolist()}</div>"
    picture = diagram(record).svg
    return (
        f"<div {_BOX}><b>Record {escape(repr(record.label))}</b> "
        f"({escape(_module_line(record))})"
        f"{_table(('', 'pattern', 'sizes', 'shape'), rows)}{lengths}"
        f"<details open><summary>diagram</summary>{picture}</details></div>"
    )


def recorder_html(recorder: Recorder) -> str:
    """`Recorder` as an HTML table of hooked modules and their latest annotations."""
    rows = []
    for name in recorder.names:
        kept = recorder.records(name)
        calls = recorder.calls(name)
        if kept:
            layout = kept[-1].layout
            roles = ("out", "h_n", "c_n") if layout.kind == "LSTM" else ("out", "h_n")
            cells = [escape(layout.axes(role).described()) for role in roles]  # type: ignore[arg-type]
            cells += ["-"] * (3 - len(cells))
        else:
            cells = ["(not called yet)" if not calls else "(cleared)", "", ""]
        module = recorder.modules[name]
        label = f"<code>{escape(label_of(name, module))}</code>"
        rows.append((label, escape(type(module).__name__), str(calls), *cells))
    plural = "s" if len(recorder) != 1 else ""
    return (
        f"<div {_BOX}><b>Recorder</b>: {len(recorder)} hooked module{plural}, "
        f"history={recorder.history}"
        f"{_table(('module', 'kind', 'calls', 'out', 'h_n', 'c_n'), rows)}</div>"
    )
