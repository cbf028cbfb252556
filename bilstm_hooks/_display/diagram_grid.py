"""The parts of the diagram's SVG: the legend, and one grid per sequence.

`diagram.diagram()` lays them out; each cell is a `rect` with `class` and `data-*`
attributes (the layer, direction, token, `h_n` row and sequence it stands for).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._recording.record import Record
    from .diagram_shade import Shade

__all__ = [
    "CELL_H",
    "CELL_W",
    "ELLIPSIS_W",
    "GAP_X",
    "GAP_Y",
    "LAYER_GAP",
    "LEFT",
    "MARGIN",
    "draw_legend",
    "draw_panel",
]

CELL_W, CELL_H, GAP_X, GAP_Y, LAYER_GAP = 46, 28, 14, 6, 12
LEFT, ELLIPSIS_W, MARGIN = 150, 24, 16
_FILLS = {  # fill, stroke
    "out": ("#dbe8ff", "#3b6fd1"),
    "plain": ("#ffffff", "#9a9a9a"),
    "pad": ("#f1f1f1", "#bdbdbd"),
}
_STATE, _LAST = "#e8590c", "#c92a2a"


def draw_legend(
    x: float, y: float, lstm: bool, last_index: str, directions: int, shaded: bool = False
) -> tuple[list[str], float, float]:
    """The legend's SVG elements, its width and its height."""
    fill, stroke = _FILLS["out"]
    if shaded:  # the fill shows the state: `out` is its blue outline
        fill = _FILLS["plain"][0]
    where = "forward: the last valid token; backward: token 0" if directions == 2 else ""
    lines = [
        (
            "out",
            "out: the last layer at every valid token"
            + (" (forward half, then backward half)" if directions == 2 else ""),
        ),
        (
            "h_n",
            "h_n[row]"
            + (" and c_n[row]" if lstm else "")
            + ": each layer and direction at its last step"
            + ("" if where else " (the last valid token)"),
        ),
        ("", where),
        (
            "last",
            f"{last_index}: what indexing the last token takes: wrong wherever it "
            "misses the orange cells",
        ),
    ]
    boxes = {
        "out": f'fill="{fill}" stroke="{stroke}"',
        "h_n": f'fill="#ffffff" stroke="{_STATE}" stroke-width="3"',
        "last": f'fill="none" stroke="{_LAST}" stroke-dasharray="4 2" stroke-width="1.5"',
    }
    items, row = [], 0
    for key, text in lines:
        if not text:
            continue
        top = y + 18 * row
        if key:
            items.append(f'<rect x="{x}" y="{top}" width="18" height="12" {boxes[key]}/>')
        color = "" if key else ' fill="#555"'
        items.append(f'<text x="{x + 24}" y="{top + 10}"{color}>{escape(text)}</text>')
        row += 1
    width = x + 24 + 6.2 * max(len(text) for _, text in lines) + MARGIN
    return items, width, 18.0 * row + 10


def draw_panel(
    record: Record,
    label: str,
    seq: int | None,
    valid: int,
    y0: float,
    columns: list[int | None],
    x_of: dict[int, float],
    last_index: str,
    rows_h: float,
    shade: Shade | None = None,
) -> list[str]:
    """The SVG group of one sequence's grid: a row per layer and direction, a column per token."""
    layout = record.layout
    parts = [f'<g class="sequence"{_seq_attr(seq)}>']
    parts.append(f'<text x="{MARGIN}" y="{y0 + 14:.0f}" font-weight="bold">{escape(label)}</text>')
    top = y0 + 22 + 18
    row_y = _row_tops(top, layout.layers, layout.directions)
    for (layer, d), ry in row_y.items():
        parts += _row(record, layer, d, ry, seq, valid, columns, x_of, shade)
    parts += _token_labels(columns, x_of, top + rows_h + 10)
    parts += _ellipses(columns, x_of, top + rows_h / 2)
    if layout.tokens - 1 in x_of:  # out[:, -1]: the last layer's cells at the last (padded) token
        top_row = row_y[layout.layers - 1, 0]
        parts.append(
            _last_index_box(x_of[layout.tokens - 1], top_row, layout.directions, last_index)
        )
    parts.append("</g>")
    return parts


def _row_tops(top: float, layers: int, directions: int) -> dict[tuple[int, int], float]:
    """The top of each (layer, direction) row: the last layer on top, layer 0 (the input) below."""
    row_y: dict[tuple[int, int], float] = {}
    y = top
    for layer in reversed(range(layers)):
        for d in range(directions):
            row_y[layer, d] = y
            y += CELL_H + GAP_Y
        y += LAYER_GAP
    return row_y


def _seq_attr(seq: int | None) -> str:
    """The `data-seq` attribute of a sequence's elements; none for a grid of every sequence."""
    return "" if seq is None else f' data-seq="{seq}"'


def _row_label(layer: int, d: int, row: int, ry: float) -> str:
    """A row's name on the left (`layer 0 fwd →`), and its `h_n` row next to the grid."""
    names = ("fwd →", "bwd ←")
    cy = ry + CELL_H / 2 + 4
    return (
        f'<text x="{MARGIN}" y="{cy:.0f}">layer {layer} {names[d]}</text>'
        f'<text x="{LEFT - 10}" y="{cy:.0f}" text-anchor="end" fill="{_STATE}">'
        f"h_n[{row}]</text>"
    )


def _row(
    record: Record,
    layer: int,
    d: int,
    ry: float,
    seq: int | None,
    valid: int,
    columns: list[int | None],
    x_of: dict[int, float],
    shade: Shade | None,
) -> list[str]:
    """One row: its labels, its cells left to right (each labelled), the arrows between them."""
    layout = record.layout
    lstm = layout.kind == "LSTM"
    row = layer * layout.directions + d
    seq_attr = _seq_attr(seq)
    parts = [_row_label(layer, d, row, ry)]
    h_n_token = (valid - 1) if d == 0 else 0
    last_col: float | None = None
    for t in columns:
        if t is None:
            last_col = None
            continue
        x = x_of[t]
        pad = t >= valid
        out = layer == layout.layers - 1 and not pad
        state = t == h_n_token and valid > 0
        classes = _cell_classes(out, pad, state, lstm)
        shaded = shade.cell(seq, layer, d, t) if shade is not None and not pad else None
        fill, stroke, extra, end = _cell_paint(out, pad, state, shaded)
        parts.append(
            f'<rect class="{classes}" data-layer="{layer}" data-direction="{d}" '
            f'data-token="{t}" data-row="{row}"{seq_attr} x="{x:.0f}" y="{ry:.0f}" '
            f'width="{CELL_W}" height="{CELL_H}" rx="3" fill="{fill}" stroke="{stroke}"'
            f"{extra}{end}"
        )
        if state:
            parts += _state_label(x, ry, lstm, badge=shade is not None)
        elif pad:
            parts.append(_pad_label(x, ry))
        if last_col is not None and not pad:
            parts.append(_arrow(last_col, x, ry, d))
        last_col = None if pad else x
    return parts


def _cell_classes(out: bool, pad: bool, state: bool, lstm: bool) -> str:
    """A cell's `class`: `cell`, and `out`, `pad`, `h_n` (and `c_n`) where they apply."""
    classes = ["cell"]
    if out:
        classes.append("out")
    if pad:
        classes.append("pad")
    if state:
        classes += ["h_n", "c_n"] if lstm else ["h_n"]
    return " ".join(classes)


def _cell_paint(
    out: bool, pad: bool, state: bool, shaded: tuple[str, str] | None
) -> tuple[str, str, str, str]:
    """A cell's fill, stroke, further stroke attributes, and tag end (a tooltip when shaded)."""
    fill, stroke = _FILLS["out" if out else "pad" if pad else "plain"]
    extra = ' stroke-dasharray="3 2"' if pad else ""
    if state:
        stroke, extra = _STATE, ' stroke-width="3"'
    end = "/>"
    if shaded is not None:
        fill, tip = shaded
        end = f"><title>{escape(tip)}</title></rect>"
    return fill, stroke, extra, end


def _state_label(x: float, ry: float, lstm: bool, badge: bool) -> list[str]:
    """`h_n c_n` (or `h_n`) on the cell a state row holds, on a light badge when shaded."""
    text = "h_n c_n" if lstm else "h_n"
    parts = []
    if badge:  # a light badge: the label stays readable on any fill
        parts.append(
            f'<rect x="{x + 3:.0f}" y="{ry + CELL_H / 2 - 7:.0f}" '
            f'width="{CELL_W - 6}" height="14" rx="2" fill="#ffffff" '
            'fill-opacity="0.85"/>'
        )
    parts.append(
        f'<text x="{x + CELL_W / 2:.0f}" y="{ry + CELL_H / 2 + 4:.0f}" '
        f'text-anchor="middle" font-size="10" fill="{_STATE}">{text}</text>'
    )
    return parts


def _pad_label(x: float, ry: float) -> str:
    """`pad` on a padding cell."""
    return (
        f'<text x="{x + CELL_W / 2:.0f}" y="{ry + CELL_H / 2 + 4:.0f}" '
        f'text-anchor="middle" font-size="10" fill="#999">pad</text>'
    )


def _arrow(before_x: float, x: float, ry: float, d: int) -> str:
    """The arrow between two neighbouring cells, the way the recurrence runs."""
    a, b = before_x + CELL_W + 1, x - 1
    if d == 1:
        a, b = b, a
    cy2 = ry + CELL_H / 2
    return (
        f'<line x1="{a:.0f}" y1="{cy2:.0f}" x2="{b:.0f}" y2="{cy2:.0f}" '
        'stroke="#777" marker-end="url(#arrow)"/>'
    )


def _token_labels(columns: list[int | None], x_of: dict[int, float], y: float) -> list[str]:
    """`t0`, `t1`... under the columns drawn."""
    return [
        f'<text x="{x_of[t] + CELL_W / 2:.0f}" y="{y:.0f}" '
        f'text-anchor="middle" fill="#555">t{t}</text>'
        for t in columns
        if t is not None
    ]


def _ellipses(columns: list[int | None], x_of: dict[int, float], y: float) -> list[str]:
    """A `…` wherever a run of tokens is left out."""
    parts = []
    for i in [i for i, t in enumerate(columns) if t is None]:
        before = columns[i - 1]
        assert before is not None
        gx = x_of[before] + CELL_W + ELLIPSIS_W / 2 + GAP_X / 2 - 4
        parts.append(
            f'<text x="{gx:.0f}" y="{y:.0f}" text-anchor="middle" '
            'font-size="16" fill="#777">…</text>'
        )
    return parts


def _last_index_box(column_x: float, top_row: float, directions: int, last_index: str) -> str:
    """The red dashed box round what `out[:, -1]` takes, and its name above it."""
    x = column_x - 4
    ry = top_row - 4
    h = directions * (CELL_H + GAP_Y) - GAP_Y + 8
    return (
        f'<rect class="last-index" x="{x:.0f}" y="{ry:.0f}" width="{CELL_W + 8}" '
        f'height="{h}" fill="none" stroke="{_LAST}" stroke-width="1.5" '
        'stroke-dasharray="4 2"/>'
        f'<text x="{x + CELL_W / 2 + 4:.0f}" y="{ry - 4:.0f}" text-anchor="middle" '
        f'font-size="10" fill="{_LAST}">{escape(last_index)}</text>'
    )
