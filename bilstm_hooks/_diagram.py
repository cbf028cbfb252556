"""The SVG diagram of a recurrent call: layers x tokens x directions, per sequence.

One grid per sequence: a row per layer and direction, a column per token. Blue
cells are what `out` holds (the last layer), orange-outlined cells are what the
`h_n` (and `c_n`) rows hold (the forward direction at the last valid token, the
backward direction at token 0), grey dashed cells are padding of a packed batch,
and a red dashed box marks what `out[:, -1]` takes. Hand-written SVG: no
dependency, and the structure is testable (every cell is a `rect` with `class`
and `data-*` attributes).
"""

from __future__ import annotations

import os
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._record import Record
    from ._shade import Shade
    from ._unroll import Unrolled

__all__ = ["Diagram", "diagram"]


# -- the diagram ---------------------------------------------------------------------------
_CELL_W, _CELL_H, _GAP_X, _GAP_Y, _LAYER_GAP = 46, 28, 14, 6, 12
_LEFT, _ELLIPSIS_W, _MARGIN = 150, 24, 16
_FILLS = {  # fill, stroke
    "out": ("#dbe8ff", "#3b6fd1"),
    "plain": ("#ffffff", "#9a9a9a"),
    "pad": ("#f1f1f1", "#bdbdbd"),
}
_STATE, _LAST = "#e8590c", "#c92a2a"


class Diagram:
    """An SVG picture of one recorded call: layers x tokens x directions, per sequence.

    Shown inline by Jupyter; `str()` and `.svg` are the SVG text, `save(path)`
    writes it to a `.svg` file.
    """

    def __init__(self, svg: str, title: str) -> None:
        self.svg = svg
        self.title = title

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<Diagram: {self.title}>"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the SVG to `path` (a name ending in `.svg`)."""
        if not os.fspath(path).lower().endswith(".svg"):
            raise ValueError(
                f"Diagram.save writes SVG; expected a path ending in .svg, got {os.fspath(path)!r}"
            )
        with open(path, "w", encoding="utf-8") as file:
            file.write(self.svg)


def _columns(tokens: int, keep: set[int], max_tokens: int) -> list[int | None]:
    """Token indices to draw, `None` where a run of tokens is left out."""
    if tokens <= max_tokens:
        return list(range(tokens))
    edge = max(1, max_tokens // 4)
    shown = sorted({*range(edge), *range(tokens - edge, tokens), *keep})
    columns: list[int | None] = []
    for t in shown:
        if columns and columns[-1] is not None and t != columns[-1] + 1:
            columns.append(None)
        columns.append(t)
    return columns


def diagram(
    record: Record, *, max_sequences: int = 4, max_tokens: int = 12, values: Unrolled | None = None
) -> Diagram:
    """The unrolled call of `record` as a `Diagram`.

    One grid per sequence for packed input (where each sequence's last valid
    token differs) or with `values` (the replay of the call, whose states shade
    the cells), else one grid that holds for every sequence.
    """
    shade: Shade | None = None
    if values is not None:
        from ._shade import Shade

        shade = Shade(values)
    layout = record.layout
    directions, layers, tokens = layout.directions, layout.layers, layout.tokens
    lengths = record.lengths.tolist() if record.lengths is not None else None
    panels: list[tuple[str, int | None, int]]
    if lengths is not None:
        panels = [(f"sequence {b} (length {n})", b, n) for b, n in enumerate(lengths)]
    elif layout.batched and shade is not None:  # the states differ per sequence
        panels = [(f"sequence {b} ({tokens} tokens)", b, tokens) for b in range(layout.batch or 0)]
    elif layout.batched:
        what = "every sequence" if (layout.batch or 0) > 1 else "the sequence"
        panels = [(f"{what} (batch={layout.batch}, {tokens} tokens)", None, tokens)]
    else:
        panels = [(f"the sequence (unbatched, {tokens} tokens)", None, tokens)]
    hidden_panels = max(0, len(panels) - max_sequences)
    panels = panels[:max_sequences]
    columns = _columns(tokens, {n - 1 for _, _, n in panels if n > 0}, max_tokens)
    x_of: dict[int, float] = {}
    x = float(_LEFT)
    for col in columns:
        if col is None:
            x += _ELLIPSIS_W
        else:
            x_of[col] = x
            x += _CELL_W + _GAP_X
    width = x - _GAP_X + _MARGIN
    last_index = "out[:, -1]" if layout.batched and layout.batch_first else "out[-1]"
    rows_h = layers * directions * (_CELL_H + _GAP_Y) + (layers - 1) * _LAYER_GAP
    panel_h = 22 + 18 + rows_h + 22 + 14
    legend, legend_w, legend_h = _legend(
        _MARGIN, 40, layout.kind == "LSTM", last_index, directions, shade is not None
    )
    if shade is not None:
        bar, bar_w, bar_h = shade.legend(_MARGIN, 40 + legend_h - 10)
        legend, legend_w, legend_h = legend + bar, max(legend_w, bar_w), legend_h + bar_h
    width = max(width, legend_w)
    height = 34 + legend_h + len(panels) * panel_h + (20 if hidden_panels else 0)

    name = f" {record.name!r}" if record.name else ""
    title = (
        f"{layout.kind}{name}: {layers} layer{'s' if layers > 1 else ''} × "
        f"{tokens} token{'s' if tokens > 1 else ''} × "
        f"{directions} direction{'s' if directions > 1 else ''}"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
        "<defs>"
        '<marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L6,3 L0,6 z" '
        'fill="#777"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    parts += legend
    y0 = 34.0 + legend_h
    for label, seq, valid in panels:
        parts += _panel(record, label, seq, valid, y0, columns, x_of, last_index, rows_h, shade)
        y0 += panel_h
    if hidden_panels:
        more = f"… and {hidden_panels} more sequence{'s' if hidden_panels > 1 else ''}"
        parts.append(f'<text x="{_MARGIN}" y="{y0 + 6:.0f}" fill="#555">{more}</text>')
    parts.append("</svg>")
    return Diagram("\n".join(parts), title)


def _legend(
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
    width = x + 24 + 6.2 * max(len(text) for _, text in lines) + _MARGIN
    return items, width, 18.0 * row + 10


def _panel(
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
    parts.append(f'<text x="{_MARGIN}" y="{y0 + 14:.0f}" font-weight="bold">{escape(label)}</text>')
    top = y0 + 22 + 18
    # the last layer is drawn on top, layer 0 at the bottom (the input side)
    row_y: dict[tuple[int, int], float] = {}
    y = top
    for layer in reversed(range(layers)):
        for d in range(directions):
            row_y[layer, d] = y
            y += _CELL_H + _GAP_Y
        y += _LAYER_GAP
    names = ("fwd →", "bwd ←")
    for (layer, d), ry in row_y.items():
        row = layer * directions + d
        cy = ry + _CELL_H / 2 + 4
        parts.append(
            f'<text x="{_MARGIN}" y="{cy:.0f}">layer {layer} {names[d]}</text>'
            f'<text x="{_LEFT - 10}" y="{cy:.0f}" text-anchor="end" fill="{_STATE}">'
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
                f'width="{_CELL_W}" height="{_CELL_H}" rx="3" fill="{fill}" stroke="{stroke}"'
                f"{extra}{end}"
            )
            if state:
                text = "h_n c_n" if lstm else "h_n"
                if shade is not None:  # a light badge: the label stays readable on any fill
                    parts.append(
                        f'<rect x="{x + 3:.0f}" y="{ry + _CELL_H / 2 - 7:.0f}" '
                        f'width="{_CELL_W - 6}" height="14" rx="2" fill="#ffffff" '
                        'fill-opacity="0.85"/>'
                    )
                parts.append(
                    f'<text x="{x + _CELL_W / 2:.0f}" y="{ry + _CELL_H / 2 + 4:.0f}" '
                    f'text-anchor="middle" font-size="10" fill="{_STATE}">{text}</text>'
                )
            elif pad:
                parts.append(
                    f'<text x="{x + _CELL_W / 2:.0f}" y="{ry + _CELL_H / 2 + 4:.0f}" '
                    f'text-anchor="middle" font-size="10" fill="#999">pad</text>'
                )
            if last_col is not None and not pad:  # the direction the recurrence runs
                a, b = last_col + _CELL_W + 1, x - 1
                if d == 1:
                    a, b = b, a
                cy2 = ry + _CELL_H / 2
                parts.append(
                    f'<line x1="{a:.0f}" y1="{cy2:.0f}" x2="{b:.0f}" y2="{cy2:.0f}" '
                    'stroke="#777" marker-end="url(#arrow)"/>'
                )
            last_col = None if pad else x
    for t in columns:
        if t is None:
            continue
        parts.append(
            f'<text x="{x_of[t] + _CELL_W / 2:.0f}" y="{top + rows_h + 10:.0f}" '
            f'text-anchor="middle" fill="#555">t{t}</text>'
        )
    gaps = [i for i, t in enumerate(columns) if t is None]
    for i in gaps:
        before = columns[i - 1]
        assert before is not None
        gx = x_of[before] + _CELL_W + _ELLIPSIS_W / 2 + _GAP_X / 2 - 4
        parts.append(
            f'<text x="{gx:.0f}" y="{top + rows_h / 2:.0f}" text-anchor="middle" '
            'font-size="16" fill="#777">…</text>'
        )
    tokens = layout.tokens
    if tokens - 1 in x_of:  # out[:, -1]: the last layer's cells at the last (padded) token
        x = x_of[tokens - 1] - 4
        ry = row_y[layers - 1, 0] - 4
        h = directions * (_CELL_H + _GAP_Y) - _GAP_Y + 8
        parts.append(
            f'<rect class="last-index" x="{x:.0f}" y="{ry:.0f}" width="{_CELL_W + 8}" '
            f'height="{h}" fill="none" stroke="{_LAST}" stroke-width="1.5" '
            'stroke-dasharray="4 2"/>'
            f'<text x="{x + _CELL_W / 2 + 4:.0f}" y="{ry - 4:.0f}" text-anchor="middle" '
            f'font-size="10" fill="{_LAST}">{escape(last_index)}</text>'
        )
    parts.append("</g>")
    return parts
