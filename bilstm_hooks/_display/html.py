"""Notebook views: the HTML reprs of records, recorders, annotated tensors and gate
saturation tables, registered as the views of those objects (`_core.providers`).

The SVG diagram of a call is in `diagram.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from .._base.dtypes import dtype_and_device
from .._core.annotated import AnnotatedTensor
from .._core.providers import provides
from .._names.layout import label_of
from .._recording.cell_record import CellRecord
from .._replay.saturation import Saturation, bound_text, nan_note, share_text
from .diagram import diagram
from .tensor_text import lengths_text, positions_text
from .text import module_line

if TYPE_CHECKING:
    from .._recording.record import Record
    from .._recording.recorder import Recorder

__all__ = [
    "BOX",
    "annotated_html",
    "html_table",
    "record_html",
    "recorder_html",
    "saturation_html",
]

BOX = (
    'style="font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; '
    'font-size: 12px; line-height: 1.5"'
)
_CHIP = 'style="background: #eef3fb; border-radius: 3px; padding: 0 3px"'


# -- HTML --------------------------------------------------------------------------------
def _dims_html(tensor: AnnotatedTensor) -> str:
    return tensor.axes.grouped(lambda name, size: f"<span {_CHIP}>{escape(name)}={size}</span>")


@provides("annotated tensor html")
def annotated_html(tensor: AnnotatedTensor) -> str:
    """`AnnotatedTensor` as HTML: named sizes; pattern, origin and where it was taken
    (`encoder.h_n: layer 1, backward`), dtype and shape; its notes and lengths."""
    t = tensor.tensor
    origin = f" · {escape(tensor.origin)}" if tensor.origin else ""
    if tensor.at:
        origin += f"{':' if origin else ' ·'} {escape(positions_text(tensor.at))}"
    dtype = dtype_and_device(t)
    extra = [escape(note) for note in tensor.notes]
    if tensor.lengths is not None:
        extra.append(f"lengths {lengths_text(tensor.lengths)}")
    notes = "".join(f'<br><span style="color: #8a4b00">{line}</span>' for line in extra)
    return (
        f"<div {BOX}><b>AnnotatedTensor</b> {_dims_html(tensor)}"
        f'<br><span style="color: #666"><code>{escape(tensor.pattern)}</code>{origin} · '
        f"{dtype} · shape {tuple(t.shape)}</span>{notes}</div>"
    )


def html_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    cell = 'style="text-align: left; padding: 1px 12px 1px 0; white-space: nowrap"'
    head = "".join(f"<th {cell}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {cell}>{c}</td>" for c in row) + "</tr>" for row in rows)
    table = 'style="border-collapse: collapse; font-size: inherit; margin: 4px 0"'
    return f"<table {table}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@provides("record html")
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
        f"<div {BOX}><b>Record {escape(repr(record.label))}</b> "
        f"({escape(module_line(record))})"
        f"{html_table(('', 'pattern', 'sizes', 'shape'), rows)}{lengths}"
        f"<details open><summary>diagram</summary>{picture}</details></div>"
    )


@provides("recorder html")
def recorder_html(recorder: Recorder) -> str:
    """`Recorder` as an HTML table of hooked modules and their latest annotations."""
    rows = []
    for name in recorder.names:
        kept = recorder.records(name)
        calls = recorder.calls(name)
        latest = kept[-1] if kept else None
        if isinstance(latest, CellRecord):  # the loop's h, then the latest step's h and c
            loop = latest.layout.steps_axes("h", len(latest.steps()))
            cells = [
                escape(f"h {loop.described()}"),
                escape(f"h {latest.layout.axes('h').described()}"),
            ]
            cells.append(
                escape(f"c {latest.layout.axes('c').described()}") if latest.c is not None else "-"
            )
        elif kept:
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
        f"<div {BOX}><b>Recorder</b>: {len(recorder)} hooked module{plural}, "
        f"history={recorder.history}"
        f"{html_table(('module', 'kind', 'calls', 'out', 'h_n', 'c_n'), rows)}</div>"
    )


@provides("saturation html")
def saturation_html(saturation: Saturation) -> str:
    """`Saturation` as an HTML table: a row per layer and direction, low | high per gate."""
    gates = zip(saturation.gate_names, map(bound_text, saturation.gate_names), strict=True)
    header = (
        "layer",
        "direction",
        *(f"{escape(n)}<br><small>{escape(h)}</small>" for n, h in gates),
    )
    body = [
        (layer, direction, *(escape(f"{share_text(lo)} | {share_text(hi)}") for lo, hi in pairs))
        for layer, direction, pairs in saturation.rows()
    ]
    note = nan_note(saturation)
    note = f'<span style="color: #8a4b00">{escape(note)}</span>' if note else ""
    return (
        f"<div {BOX}><b>{escape(saturation.title)}</b><br>share of valid steps near each end "
        f"of the gate's range (low | high){html_table(header, body)}{note}</div>"
    )
