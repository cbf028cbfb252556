"""Unrolled.plot(): token x hidden heatmaps per layer and direction, on matplotlib.

matplotlib is an optional extra (`pip install bilstm-hooks[plot]`), imported only
here and only when a plot is asked for. The figure is made without pyplot, so that
nothing global changes, and carries its own PNG (`_repr_png_`): Jupyter shows it
once, as the value of the cell, with or without `%matplotlib inline`. The layout
follows the diagram's: the last layer on top, forward on the left.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING, Any

from .._core.providers import provides
from .._names.layout import DIRECTIONS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .._replay.unrolled import Unrolled

__all__ = ["plot"]

_PADDING = "#d0d0d0"


def _matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Unrolled.plot() needs matplotlib, an optional extra of bilstm_hooks: "
            "pip install bilstm-hooks[plot] (or pip install matplotlib)"
        ) from exc


@provides("plot")
def plot(unrolled: Unrolled, *, sequence: int = 0, state: str = "out") -> Figure:
    """See `Unrolled.plot`."""
    layout = unrolled.layout
    states = ["out", *(["c"] if layout.kind == "LSTM" else []), *unrolled.gate_names]
    if state not in states:
        raise ValueError(f"expected state as one of {', '.join(map(repr, states))}, got {state!r}")
    batch = layout.batch if layout.batch is not None else 1
    if batch == 0:
        raise ValueError(
            f"cannot plot {unrolled.record.where}: the call had a batch of 0 sequences, "
            "none to plot"
        )
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence < batch:
        raise ValueError(
            f"expected sequence as an int in 0..{batch - 1} (the batch row to plot), "
            f"got {sequence!r}"
        )
    _matplotlib()
    import numpy as np

    replayed = unrolled.replayed
    if state == "out":
        values, label = replayed.out, "h (out)"
    elif state == "c":
        assert replayed.c is not None
        values, label = replayed.c, "c (cell state)"
    else:
        gates = unrolled.gates
        assert gates is not None
        tensor = gates.tensor if layout.batched else gates.tensor.unsqueeze(3)
        values = tensor[:, :, unrolled.gate_names.index(state)]
        label = f"{state} gate"
    # layer direction token hidden, as hidden x token images
    data = values[:, :, sequence].detach().float().cpu().numpy()
    valid = replayed.mask[sequence].cpu().numpy()
    sigmoid_gate = state in unrolled.gate_names and state not in ("cell", "new")
    if sigmoid_gate:
        vmin, vmax, cmap_name = 0.0, 1.0, "viridis"
    else:
        largest = float(np.abs(data[:, :, valid]).max()) if valid.any() else 0.0
        vmax = largest or 1.0
        vmin, cmap_name = -vmax, "BrBG"
    import matplotlib

    cmap = matplotlib.colormaps[cmap_name].with_extremes(bad=_PADDING)
    layers, directions = layout.layers, layout.directions
    units = data.shape[-1]
    width = min(14.0, 1.6 + 2.6 * directions + 0.25 * layout.tokens * directions)
    height = min(12.0, 0.9 + layers * (0.9 + 0.22 * min(units, 32)))
    figure = _figure_class()(figsize=(width, height), layout="constrained")
    axes = figure.subplots(layers, directions, squeeze=False, sharex=True, sharey=True)
    image = None
    for layer in range(layers):
        for d in range(directions):
            ax = axes[layers - 1 - layer][d]  # the last layer on top
            shown = np.ma.masked_array(
                data[layer, d].T, mask=np.broadcast_to(~valid, (units, len(valid)))
            )
            image = ax.imshow(shown, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                              interpolation="nearest", origin="lower")  # fmt: skip
            name = DIRECTIONS[d] if directions == 2 else "forward"
            arrow = "→" if d == 0 else "←"
            ax.set_title(f"layer {layer} {name} {arrow}", fontsize=9)
            if layer == 0:
                ax.set_xlabel("token")
            if d == 0:
                ax.set_ylabel("hidden unit")
            if layout.tokens <= 16:
                ax.set_xticks(range(layout.tokens))
            if units <= 8:
                ax.set_yticks(range(units))
    assert image is not None
    figure.colorbar(image, ax=axes, label=label, shrink=0.9)
    which = f", sequence {sequence}" if layout.batched else ""
    padded = " (grey: padding)" if not valid.all() else ""
    figure.suptitle(f"{unrolled.record.where}{which}: {label}{padded}", fontsize=10)
    return figure


def __getattr__(name: str) -> Any:
    """`PlotFigure`, made on first use (matplotlib is optional): so that pickle finds it."""
    if name == "PlotFigure":
        return _figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _figure_class() -> type[Figure]:
    from matplotlib.figure import Figure

    class PlotFigure(Figure):
        """A matplotlib Figure that carries its own PNG: made without pyplot, it has no
        display of its own outside `%matplotlib inline`."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    PlotFigure.__module__, PlotFigure.__qualname__ = __name__, "PlotFigure"
    return PlotFigure
