"""The table of `summary()`: torchinfo's own, plus a "Named dims" column and h_n/c_n rows.

The records of the recurrent calls are joined onto `stats.summary_list` by
`LayerInfo.module` (one LayerInfo per call, in call order), and a
`FormattingOptions` subclass renders the column. What it cannot place (rows
deeper than `depth`, hidden rows, or torchinfo internals that changed) is
appended as a plain section below the table.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from torch import nn
from torchinfo.enums import ColumnSettings, Units
from torchinfo.formatting import FormattingOptions
from torchinfo.layer_info import LayerInfo
from torchinfo.model_statistics import ModelStatistics

from .._names.cells import CELL_TYPES
from .._names.layout import RECURRENT_TYPES, Axes, Layout, Role
from .._recording.cell_record import CellRecord
from .._recording.record import Record
from .._recording.recorder import Recorder
from .cell_text import cell_steps_text
from .text import record_text

__all__ = ["render"]

_TITLE = "Named dims"


class _Row:
    """One line of our column: the note on a layer's row, or a sub-row of its own."""

    __slots__ = ("label", "note", "shape")

    def __init__(self, label: str, note: str, shape: str = "") -> None:
        self.label = label
        self.note = note
        self.shape = shape


def _config_described(axes: Axes) -> str:
    """Sizes that come from the module alone: `batch token (direction=2 hidden=4)`."""
    return axes.grouped(lambda name, size: name if name in ("batch", "token") else f"{name}={size}")


def _shape(shape: Any) -> str:
    return str(list(shape))


def _cell_rows(record: CellRecord | None, module: nn.Module) -> list[_Row]:
    """A cell's row: the step it ran and the state it returned (`step 2 of 6`)."""
    if record is None:
        return [_Row("h", f"h    batch hidden={module.hidden_size}")]
    steps = len(record.steps())
    axes = record.layout.axes("h").described()
    return [_Row("h", f"h    {axes} · step {record.step} of {record.steps().first + steps}")]


def _rows_of(record: Record | CellRecord | None, module: nn.Module) -> list[_Row]:
    """The note of the layer's own row, then its sub-rows."""
    if isinstance(module, CELL_TYPES):
        return _cell_rows(record if isinstance(record, CellRecord) else None, module)
    if record is None:  # no forward pass: what the module's configuration fixes
        layout = Layout.of_module(module, batch=1, tokens=1)
        roles: tuple[Role, ...] = ("out", "h_n", "c_n") if layout.kind == "LSTM" else ("out", "h_n")
        return [_Row(role, f"{role:<4} {_config_described(layout.axes(role))}") for role in roles]
    assert isinstance(record, Record)
    layout = record.layout
    out = f"out  {layout.axes('out').described()}"
    rows = [_Row("out", out + (", padded" if layout.packed else ""))]
    states: tuple[Role, ...] = ("h_n", "c_n") if layout.kind == "LSTM" else ("h_n",)
    for role in states:
        tensor = record.h_n if role == "h_n" else record.c_n
        shape = _shape(tensor.shape) if tensor is not None else ""
        rows.append(_Row(role, f"{role:<4} {layout.axes(role).described()}", shape))
    if record.lengths is not None:
        lengths = ", ".join(map(str, record.lengths.tolist()))
        rows.append(_Row("lengths", f"packed, lengths [{lengths}]"))
    return rows


def _with_note(line: str, note: str, column: int) -> str:
    return (line.ljust(column) if len(line) < column else line + " ") + note


class _NamedDimsFormatting(FormattingOptions):
    """torchinfo's formatting plus a "Named dims" column and h_n/c_n rows.

    Takes over the settings of the formatting torchinfo made, and remembers which
    LayerInfos it rendered (the rest go into the appended section).
    """

    def __init__(
        self,
        base: FormattingOptions,
        notes: dict[int, list[_Row]],
        verbose: int,
        summary_list: list[LayerInfo],
    ) -> None:
        self.__dict__.update(base.__dict__)
        self.verbose = verbose
        self.notes = notes
        self.rendered: set[int] = set()
        widths = [len(row.note) for rows in notes.values() for row in rows]
        self.notes_width = max([len(_TITLE), *widths])
        self.layer_name_width = self._name_width(summary_list)

    def _name_width(self, summary_list: list[LayerInfo]) -> int:
        """torchinfo's first column is 40 wide at least; ours is as wide as its names need,
        so that the table with its extra column still fits a terminal."""
        needed = [len(self.header_row_label())]
        for info in summary_list:
            if info.depth > self.max_depth:
                continue
            name = self.get_start_str(info.depth) + info.get_layer_name(
                self.show_var_name, self.show_depth
            )
            needed.append(len(name))
            for row in self.notes.get(id(info), [])[1:]:
                needed.append(len(self.get_start_str(info.depth + 1) + row.label))
        return max(needed) + 2

    def header_row_label(self) -> str:
        label = " (var_name)" if self.show_var_name else ""
        return f"Layer (type{label}{':depth-idx' if self.show_depth else ''})"

    def _column(self) -> int:
        return self.layer_name_width + 1 + len(tuple(self.col_names)) * (self.col_width + 1)

    def get_total_width(self) -> int:
        return self._column() + self.notes_width

    def header_row(self) -> str:
        line = super().header_row().rstrip("\n")
        return _with_note(line, _TITLE, self._column()) + "\n"

    def layer_info_to_row(
        self, layer_info: LayerInfo, reached_max_depth: bool, total_params: int
    ) -> str:
        text = super().layer_info_to_row(layer_info, reached_max_depth, total_params)
        rows = self.notes.get(id(layer_info))
        if not rows:
            return text
        self.rendered.add(id(layer_info))
        first, _, rest = text.partition("\n")
        column = self._column()
        lines = [_with_note(first, rows[0].note, column)]
        prefix = self.get_start_str(layer_info.depth + 1)
        for row in rows[1:]:
            values = {ColumnSettings.OUTPUT_SIZE: row.shape or "--"}
            sub = self.format_row(f"{prefix}{row.label}", values).rstrip("\n")
            lines.append(_with_note(sub, row.note, column))
        return "\n".join(lines) + "\n" + rest


def _join(
    stats: ModelStatistics, recorder: Recorder | None
) -> dict[int, tuple[LayerInfo, Record | CellRecord | None]]:
    """LayerInfo id -> (LayerInfo, its call's record): torchinfo adds one LayerInfo per call."""
    pending: dict[int, deque[Record | CellRecord]] = {}
    if recorder is not None:
        for name, module in recorder.modules.items():
            pending[id(module)] = deque(recorder.records(name))
    joined: dict[int, tuple[LayerInfo, Record | CellRecord | None]] = {}
    for info in stats.summary_list:
        module = info.module
        if not isinstance(module, RECURRENT_TYPES + CELL_TYPES) or id(info) in joined:
            continue
        queue = pending.get(id(module))
        if queue:
            joined[id(info)] = (info, queue.popleft())
        elif not info.executed:
            joined[id(info)] = (info, None)
    return joined


def render(
    stats: ModelStatistics, recorder: Recorder | None, model: nn.Module, verbose: int
) -> tuple[str, list[Record | CellRecord]]:
    """The table, and every record in call order (the table's order, then the rest)."""
    placed: list[Record | CellRecord] = []
    original = stats.formatting
    try:
        joined = _join(stats, recorder)
        notes = {key: _rows_of(record, info.module) for key, (info, record) in joined.items()}
        formatting = _NamedDimsFormatting(original, notes, verbose, stats.summary_list)
        stats.formatting = formatting
        text = repr(stats)
        placed = [
            record
            for key, (_, record) in joined.items()
            if key in formatting.rendered and record is not None
        ]
    except Exception:  # torchinfo's internals changed: its own table, our section below
        stats.formatting = original
        text = repr(stats)
    finally:
        stats.formatting = original
    for unit in Units:  # torchinfo 1.8.0 prints "(Units.MEGABYTES)" on Python >= 3.11
        text = text.replace(f"({unit.__class__.__name__}.{unit.name})", f"({unit.value})")
    if recorder is None:
        looked_for = ", ".join(f"nn.{t.__name__}" for t in RECURRENT_TYPES)
        return f"{text}\nNo recurrent layer in {type(model).__name__} ({looked_for}).", []
    shown = {id(record) for record in placed}
    section = [f"{_TITLE} of recurrent calls not shown in the table above:"]
    left: list[Record | CellRecord] = []
    for name in recorder.names:
        kept = recorder.records(name)
        loops = [r for r in kept if isinstance(r, CellRecord) and id(r) not in shown]
        for index, step in enumerate(loops):
            if index + 1 == len(loops) or step.step + 1 != loops[index + 1].step:
                section.append(cell_steps_text(step.steps()))  # one entry per loop
                left.append(step)
        for call, record in enumerate(kept, 1):
            if id(record) in shown or isinstance(record, CellRecord):
                continue
            left.append(record)
            first, _, rest = record_text(record).partition("\n")
            section += [f"{first}, call {call}" if len(kept) > 1 else first, rest]
    if len(section) > 1:
        text += "\n" + "\n".join(section)
    return text, placed + left
