"""The colours of `Record.diagram(values=True)`: each cell shaded by its state.

A cell's value is the mean of h over its hidden units at that layer, direction and
token; the colour scale diverges from brown (negative) through white (0) to teal
(positive), symmetric around 0 and scaled to the largest |mean| in the picture.
Each cell's SVG `<title>` (its tooltip) gives the mean, the range of h and, for an
LSTM, the mean of c.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from .._names.layout import DIRECTIONS

if TYPE_CHECKING:
    from .._replay.unrolled import Unrolled

__all__ = ["Shade", "colour"]

# BrBG's ends and middle: readable for red-green colour blindness, and apart from the
# diagram's blue (out), orange (h_n) and red (out[:, -1]) marks
_NEGATIVE, _ZERO, _POSITIVE = (140, 81, 10), (245, 245, 245), (1, 102, 94)
_STRONGEST = 0.85  # of the way to an end colour: the labels in the cells stay readable


def colour(value: float, scale: float) -> str:
    """`#rrggbb` for `value` on the diverging scale of +-`scale`."""
    share = 0.0 if scale <= 0 else max(-1.0, min(1.0, value / scale)) * _STRONGEST
    end = _POSITIVE if share >= 0 else _NEGATIVE
    rgb = (round(z + abs(share) * (e - z)) for z, e in zip(_ZERO, end, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


class Shade:
    """Fill and tooltip of every cell of one unrolled call."""

    def __init__(self, unrolled: Unrolled) -> None:
        replayed = unrolled.replayed
        out = replayed.out.float()  # layer direction batch token hidden
        self.mean = out.mean(-1).cpu().tolist()
        self.low = out.amin(-1).cpu().tolist()
        self.high = out.amax(-1).cpu().tolist()
        self.c_mean = None if replayed.c is None else replayed.c.float().mean(-1).cpu().tolist()
        mask = replayed.mask.cpu()
        valid = out.mean(-1).abs().cpu() * mask
        self.scale = float(valid.max()) if valid.numel() else 0.0
        self.batched = unrolled.layout.batched

    def cell(self, seq: int | None, layer: int, direction: int, token: int) -> tuple[str, str]:
        """The fill and the tooltip of the cell at (`seq`, `layer`, `direction`, `token`)."""
        b = seq or 0
        mean = self.mean[layer][direction][b][token]
        where = f"layer {layer} {DIRECTIONS[direction]}, token {token}"
        if self.batched:
            where = f"sequence {b}, " + where
        tip = (
            f"{where}: mean h {mean:+.3f} "
            f"(from {self.low[layer][direction][b][token]:+.3f} "
            f"to {self.high[layer][direction][b][token]:+.3f})"
        )
        if self.c_mean is not None:
            tip += f", mean c {self.c_mean[layer][direction][b][token]:+.3f}"
        return colour(mean, self.scale), tip

    def legend(self, x: float, y: float) -> tuple[list[str], float, float]:
        """The colour bar's SVG elements, its width and its height."""
        steps = 9
        items = []
        for i in range(steps):
            value = self.scale * (2 * i / (steps - 1) - 1)
            items.append(
                f'<rect class="scale" x="{x + 14 * i:.0f}" y="{y:.0f}" width="14" height="12" '
                f'fill="{colour(value, self.scale)}"><title>{value:+.3f}</title></rect>'
            )
        right = x + 14 * steps
        text = (
            f"fill: mean of h over the hidden units, {-self.scale:+.3f} to {self.scale:+.3f} "
            "(each cell's tooltip has its values)"
        )
        items.append(f'<text x="{right + 10:.0f}" y="{y + 10:.0f}">{escape(text)}</text>')
        return items, right + 10 + 6.2 * len(text), 18.0
