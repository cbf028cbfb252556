"""The parts of the diagram's SVG: the legend, and one grid per sequence.

`_diagram.diagram()` lays them out; each cell is a `rect` with `class` and `data-*`
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
    layout = record.layout
    directions, layers = layout.directions, layout.layers
    lstm = layout.kind == "LSTM"
    seq_attr = "" if seq is None else f' data-seq="{seq}"'
    parts = [f'<g class="sequence"{seq_attr}>']
    parts.append(f'<text x="{MARGIN}" y="{y0 + 14:.0f}" font-weight="bold">{escape(label)}</text>')
    top = y0 + 22 + 18
    # the last layer is drawn on top, layer 0 at the bottom (the input side)
    row_y: dict[tuple[int, int], float] = {}
    y = top
    for layer in reversed(range(layers)):
        for d in range(directions):
            row_y[layer, d] = y
            y += CELL_H + GAP_Y
        y += LAYER_GAP
    names = ("fwd →", "bwd ←")
    for (layer, d), ry in row_y.items():
        row = layer * directions + d
        cy = ry + CELL_H / 2 + 4
        parts.append(
            f'<text x="{MARGIN}" y="{cy:.0f}">layer {layer} {names[d]}</text>'
            f'<text x="{LEFT - 10}" y="{cy:.0f}" text-anchor="end" fill="{_STATE}">'
            f"h_n[{row}]</text>"
        )
        h_n_token = (valid - 1) if d == 0 else 0
        last_col: float | None = None
        for t in columns:
            if t is None:
                last_col = None
                continue
            x = x_of[t]
            pad = t >= valid
            out = layer == layers - 1 and not pad
            state = t == h_n_token and valid > 0
            classes = ["cell"]
            if out:
                classes.append("out")
            if pad:
                classes.append("pad")
            if state:
                classes += ["h_n", "c_n"] if lstm else ["h_n"]
            fill, stroke = _FILLS["out" if out else "pad" if pad else "plain"]
            extra = ' stroke-dasharray="3 2"' if pad else ""
            if state:
                stroke, extra = _STATE, ' stroke-width="3"'
            end = "/>"
            if shade is not None and not pad:
                fill, tip = shade.cell(seq, layer, d, t)
                end = f"><title>{escape(tip)}</title></rect>"
            parts.append(
                f'<rect class="{" ".join(classes)}" data-layer="{layer}" data-direction="{d}" '
                f'data-token="{t}" data-row="{row}"{seq_attr} x="{x:.0f}" y="{ry:.0f}" '
                f'width="{CELL_W}" height="{CELL_H}" rx="3" fill="{fill}" stroke="{stroke}"'
                f"{extra}{end}"
            )
            if state:
                text = "h_n c_n" if lstm else "h_n"
                if shade is not None:  # a light badge: the label stays readable on any fill
                    parts.append(
                        f'<rect x="{x + 3:.0f}" y="{ry + CELL_H / 2 - 7:.0f}" '
                        f'width="{CELL_W - 6}" height="14" rx="2" fill="#ffffff" '
                        'fill-opacity="0.85"/>'
                    )
                parts.append(
                    f'<text x="{x + CELL_W / 2:.0f}" y="{ry + CELL_H / 2 + 4:.0f}" '
                    f'text-anchor="middle" font-size="10" fill="{_STATE}">{text}</text>'
                )
            elif pad:
                parts.append(
                    f'<text x="{x + CELL_W / 2:.0f}" y="{ry + CELL_H / 2 + 4:.0f}" '
                    f'text-anchor="middle" font-size="10" fill="#999">pad</text>'
                )
            if last_col is not None and not pad:  # the direction the recurrence runs
                a, b = last_col + CELL_W + 1, x - 1
                if d == 1:
                    a, b = b, a
                cy2 = ry + CELL_H / 2
                parts.append(
                    f'<line x1="{a:.0f}" y1="{cy2:.0f}" x2="{b:.0f}" y2="{cy2:.0f}" '
                    'stroke="#777" marker-end="url(#arrow)"/>'
                )
            last_col = None if pad else x
    for t in columns:
        if t is None:
            continue
        parts.append(
            f'<text x="{x_of[t] + CELL_W / 2:.0f}" y="{top + rows_h + 10:.0f}" '
            f'text-anchor="middle" fill="#555">t{t}</text>'
        )
    gaps = [i for i, t in enumerate(columns) if t is None]
    for i in gaps:
        before = columns[i - 1]
        assert before is not None
        gx = x_of[before] + CELL_W + ELLIPSIS_W / 2 + GAP_X / 2 - 4
        parts.append(
            f'<text x="{gx:.0f}" y="{top + rows_h / 2:.0f}" text-anchor="middle" '
            'font-size="16" fill="#777">…</text>'
        )
    tokens = layout.tokens
    if tokens - 1 in x_of:  # out[:, -1]: the last layer's cells at the last (padded) token
        x = x_of[tokens - 1] - 4
        ry = row_y[layers - 1, 0] - 4
        h = directions * (CELL_H + GAP_Y) - GAP_Y + 8
        parts.append(
            f'<rect class="last-index" x="{x:.0f}" y="{ry:.0f}" width="{CELL_W + 8}" '
            f'height="{h}" fill="none" stroke="{_LAST}" stroke-width="1.5" '
            'stroke-dasharray="4 2"/>'
            f'<text x="{x + CELL_W / 2 + 4:.0f}" y="{ry - 4:.0f}" text-anchor="middle" '
            f'font-size="10" fill="{_LAST}">{escape(last_index)}</text>'
        )
    parts.append("</g>")
    return parts
