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

from html import escape
from typing import TYPE_CHECKING

from .._core.picture import Diagram
from .._core.providers import provides
from .diagram_grid import (
    CELL_H,
    CELL_W,
    ELLIPSIS_W,
    GAP_X,
    GAP_Y,
    LAYER_GAP,
    LEFT,
    MARGIN,
    draw_legend,
    draw_panel,
)

if TYPE_CHECKING:
    from .._recording.record import Record
    from .._replay.unrolled import Unrolled
    from .diagram_shade import Shade

__all__ = ["Diagram", "diagram"]


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


@provides("diagram")
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
        from .diagram_shade import Shade

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
    shown = panels[:max_sequences]
    hidden_panels = len(panels) - len(shown)  # max_sequences >= 1: Record.diagram checks it
    panels = shown
    columns = _columns(tokens, {n - 1 for _, _, n in panels if n > 0}, max_tokens)
    x_of: dict[int, float] = {}
    x = float(LEFT)
    for col in columns:
        if col is None:
            x += ELLIPSIS_W
        else:
            x_of[col] = x
            x += CELL_W + GAP_X
    width = x - GAP_X + MARGIN
    last_index = "out[:, -1]" if layout.batched and layout.batch_first else "out[-1]"
    rows_h = layers * directions * (CELL_H + GAP_Y) + (layers - 1) * LAYER_GAP
    panel_h = 22 + 18 + rows_h + 22 + 14
    legend, legend_w, legend_h = draw_legend(
        MARGIN, 40, layout.kind == "LSTM", last_index, directions, shade is not None
    )
    if shade is not None:
        bar, bar_w, bar_h = shade.legend(MARGIN, 40 + legend_h - 10)
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
        f'<text x="{MARGIN}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    parts += legend
    y0 = 34.0 + legend_h
    for label, seq, valid in panels:
        parts += draw_panel(record, label, seq, valid, y0, columns, x_of, last_index, rows_h, shade)
        y0 += panel_h
    if hidden_panels:
        more = f"… and {hidden_panels} more sequence{'s' if hidden_panels > 1 else ''}"
        parts.append(f'<text x="{MARGIN}" y="{y0 + 6:.0f}" fill="#555">{more}</text>')
    parts.append("</svg>")
    return Diagram("\n".join(parts), title)
