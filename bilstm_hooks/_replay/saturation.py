"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015): how often each gate sits near an end.

A sigmoid gate is left-saturated below 0.1 and right-saturated above 0.9. The tanh
gates (an LSTM's cell candidate, a GRU's new gate) span (-1, 1): the same tenth of
their range at each end is below -0.8 and above 0.8. Shares are over every valid
step of every sequence and every hidden unit of the gate. A NaN is neither below nor
above a bound: it counts in neither share, and the table says at how many steps the
gates held one.
"""

from __future__ import annotations

import torch

from .._core.annotated import AnnotatedTensor
from .._core.providers import provider
from .._names.layout import DIRECTIONS, Axes
from .call import RecordedCall

__all__ = ["Saturation", "bound_text", "nan_note", "saturation", "share_text", "thresholds"]

_TANH_GATES = {"cell", "new"}


def thresholds(name: str) -> tuple[float, float]:
    """The (low, high) bounds of saturation for the gate `name`."""
    return (-0.8, 0.8) if name in _TANH_GATES else (0.1, 0.9)


class Saturation:
    """The share of valid steps at which each gate is saturated, per layer and direction.

    `low` and `high` are `layer direction gate` AnnotatedTensors of shares in [0, 1];
    the `repr` is a table with one row per layer and direction. `steps` counts the
    valid steps of every layer and direction, `nan_steps` those whose gates held a
    NaN (counted in neither share; the table then says how many).

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4)
        >>> with bh.attach_hooks(lstm) as rec:
        ...     out, _ = lstm(torch.randn(6, 2, 3))
        >>> s = rec[lstm].unroll().saturation()
        >>> s.low
        AnnotatedTensor[layer=1, direction=1, gate=4]
        >>> print(repr(s).splitlines()[2])
        layer  direction  input          forget         cell           output
    """

    def __init__(
        self,
        title: str,
        gate_names: tuple[str, ...],
        low: AnnotatedTensor,
        high: AnnotatedTensor,
        *,
        steps: int = 0,
        nan_steps: int = 0,
    ) -> None:
        self.title = title
        self.gate_names = gate_names
        self.low = low
        self.high = high
        self.steps = steps
        self.nan_steps = nan_steps

    def rows(self) -> list[tuple[str, str, list[tuple[float, float]]]]:
        """`(layer, direction, [(low, high) per gate])` per layer and direction."""
        low, high = self.low.tensor.tolist(), self.high.tensor.tolist()
        directions = len(low[0])
        rows = []
        for layer, (lows, highs) in enumerate(zip(low, high, strict=True)):
            for d in range(directions):
                name = DIRECTIONS[d] if directions == 2 else "forward"
                pairs = list(zip(lows[d], highs[d], strict=True))
                rows.append((str(layer), name, pairs))
        return rows

    def __repr__(self) -> str:
        cell = 13
        heads = [bound_text(name) for name in self.gate_names]
        lines = [
            self.title,
            "share of valid steps near each end of the gate's range (low | high)",
            "layer  direction  " + "  ".join(n.ljust(cell) for n in self.gate_names).rstrip(),
            " " * 18 + "  ".join(h.ljust(cell) for h in heads).rstrip(),
        ]
        for layer, direction, pairs in self.rows():
            cells = "  ".join(
                f"{share_text(lo):>5} | {share_text(hi):<5}".ljust(cell) for lo, hi in pairs
            )
            lines.append(f"{layer:<7}{direction:<11}{cells}".rstrip())
        return "\n".join([*lines, nan_note(self)] if self.nan_steps else lines)

    def _repr_html_(self) -> str:
        return str(provider("saturation html")(self))


def bound_text(gate: str) -> str:
    """`  <0.1 | >0.9 `: the bounds of saturation of `gate`, as a table's heading."""
    lo, hi = thresholds(gate)
    return f"{f'<{lo:g}':>5} | {f'>{hi:g}':<5}"


def nan_note(saturation: Saturation) -> str:
    """At how many valid steps the gates held a NaN, or `""`."""
    if not saturation.nan_steps:
        return ""
    return (
        f"NaN in the gates at {saturation.nan_steps} of {saturation.steps} valid steps "
        "(counting each layer and direction): in neither share"
    )


def share_text(share: float) -> str:
    """`12%`, `<1%` for a share above 0 that rounds to 0, `0%`, `100%`."""
    if share != share:  # NaN: no valid step
        return "-"
    percent = 100 * share
    if 0 < percent < 0.5:
        return "<1%"
    if 99.5 <= percent < 100:
        return ">99%"
    return f"{percent:.0f}%"


def saturation(
    record: RecordedCall, gate_names: tuple[str, ...], gates: AnnotatedTensor, mask: torch.Tensor
) -> Saturation:
    """See `Unrolled.saturation`: of `gates` (`layer direction gate [batch] token hidden`)
    at the valid steps `mask` (`batch token`) of `record`'s replay."""
    values = gates.tensor if record.layout.batched else gates.tensor.unsqueeze(3)
    bounds = torch.tensor(
        [thresholds(n) for n in gate_names], dtype=values.dtype, device=values.device
    )
    low_at, high_at = bounds.t().reshape(2, -1, 1, 1, 1)
    valid = mask[:, :, None]
    count = valid.sum() * values.shape[-1]
    dims = (-3, -2, -1)
    low = ((values < low_at) & valid).sum(dims) / count
    high = ((values > high_at) & valid).sum(dims) / count  # a NaN is in neither
    nan_at = values.isnan().any(2).any(-1) & mask  # layer direction batch token
    valid_steps, nan_steps = torch.stack((mask.sum(), nan_at.sum())).tolist()  # one sync
    layout = record.layout
    sizes = {"layer": layout.layers, "direction": layout.directions, "gate": len(gate_names)}
    axes = Axes.of([(name,) for name in sizes], sizes)
    origin = f"{record.label}.unroll().saturation()"
    title = f"Gate saturation of {record.where}"
    return Saturation(
        title,
        gate_names,
        AnnotatedTensor(low.float(), axes, f"{origin}.low"),
        AnnotatedTensor(high.float(), axes, f"{origin}.high"),
        steps=layout.layers * layout.directions * valid_steps,
        nan_steps=nan_steps,
    )
