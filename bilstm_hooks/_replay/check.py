"""Unrolled.check(): the replay against the fused call's out, h_n and c_n."""

from __future__ import annotations

import math
import numbers

import torch

from .._base.dtypes import dtype_name
from .._base.errors import LayoutError
from .._base.tolerance import REPLAY
from .._names.layout import DIRECTIONS
from .call import RecordedCall
from .recurrence import Replayed

__all__ = ["check"]


def _expect_tolerance(name: str, value: object) -> None:
    """A real number >= 0 (a 0-d real tensor too, as torch computes them), never a bool."""
    number: object = value
    if isinstance(value, torch.Tensor):
        real = not (value.is_complex() or value.dtype == torch.bool or value.is_meta)
        number = value.item() if value.dim() == 0 and real else None
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        raise TypeError(f"expected {name} as a number >= 0, got {value!r}")
    if math.isnan(number) or number < 0:
        raise ValueError(f"expected {name} as a number >= 0, got {value!r}")


def _states(fused: torch.Tensor, layers: int, directions: int) -> torch.Tensor:
    """h_n or c_n, `(layer direction) [batch] hidden`, as layer direction batch hidden."""
    if fused.dim() == 2:
        fused = fused.unsqueeze(1)
    return fused.reshape(layers, directions, *fused.shape[1:])


def check(
    record: RecordedCall,
    replayed: Replayed,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> float:
    """See `Unrolled.check`: `replayed`, the replay of `record`, against its fused call."""
    layout = record.layout
    reason = record.why_unreadable("compare the replay with the call", ("out", "h_n", "c_n"))
    if reason is not None:
        raise ValueError(f"{record.where}: {reason}")
    L, D = layout.layers, layout.directions
    fused_out = record.out.tensor
    default_rtol, default_atol = REPLAY.get(fused_out.dtype, REPLAY[torch.float32])
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None:
            _expect_tolerance(name, value)
    if layout.batch == 0:
        return 0.0  # a batch of 0 sequences: nothing to compare
    given = rtol is not None or atol is not None
    rtol = default_rtol if rtol is None else float(rtol)
    atol = default_atol if atol is None else float(atol)
    what_bound = "the tolerance given" if given else f"the {dtype_name(fused_out.dtype)} tolerance"
    bound = f"{what_bound} ({atol:g} + {rtol:g}·|fused|)"
    # the fused out as direction batch token hidden
    if not layout.batched:
        fused_out = fused_out.unsqueeze(1)
    elif layout.batch_first:
        fused_out = fused_out.transpose(0, 1)
    fused_out = fused_out.reshape(*fused_out.shape[:-1], D, -1).permute(2, 1, 0, 3)
    mask = replayed.mask  # batch token
    out = replayed.out
    # each layer's last valid step: forward at length - 1, backward at token 0
    last = (mask.sum(1) - 1).clamp(min=0)
    rows = torch.arange(mask.shape[0], device=mask.device)

    def final(steps: torch.Tensor) -> torch.Tensor:  # layer direction batch token hidden
        parts = [steps[:, 0, rows, last]] + ([steps[:, 1, :, 0]] if D == 2 else [])
        return torch.stack(parts, 1)

    h_n, c_n = record.raw("h_n"), record.raw("c_n")
    assert isinstance(h_n, torch.Tensor)
    comparisons = [
        ("out", f"out (layer {L - 1})", out[-1], fused_out, mask[None, :, :, None]),
        ("h_n", "h_n", final(out), _states(h_n, L, D), None),
    ]
    if replayed.c is not None and isinstance(c_n, torch.Tensor):
        comparisons.append(("c_n", "c_n", final(replayed.c), _states(c_n, L, D), None))
    worst = 0.0
    for role, what, mine, fused, valid in comparisons:
        got, expected = mine.double(), fused.double()
        diff = (got - expected).abs()
        diff = torch.where(got.isnan() & expected.isnan(), 0.0, diff).nan_to_num(nan=torch.inf)
        if valid is not None:
            diff = diff.masked_fill(~valid, 0.0)
        excess = diff - (atol + rtol * expected.abs().nan_to_num(nan=0.0))
        largest, over = torch.stack((diff.max(), excess.max())).tolist()  # one sync
        worst = max(worst, largest)
        if over > 0:
            at = [int(i) for i in torch.unravel_index(excess.argmax(), excess.shape)]
            raise LayoutError(_message(record, role, what, at, got, expected, largest, bound))
    return worst


def _message(
    record: RecordedCall,
    role: str,
    what: str,
    at: list[int],
    got: torch.Tensor,
    expected: torch.Tensor,
    largest: float,
    bound: str,
) -> str:
    layout = record.layout
    if role == "out":  # direction batch token hidden
        d, b, t, h = at
        place = f"{DIRECTIONS[d]} direction, token {t}, hidden {h}"
    else:  # layer direction batch hidden
        layer, d, b, h = at
        token = "its last valid token" if d == 0 else "token 0"
        row = layer * layout.directions + d
        place = f"row {row} (layer {layer} {DIRECTIONS[d]}, at {token}), hidden {h}"
    if layout.batched:
        place += f", batch row {b}"
    fused = record.out.tensor
    hint = (
        " On CUDA, cuDNN may compute float32 in TF32 (torch.backends.cudnn.allow_tf32 = False "
        "turns it off)."
        if fused.device.type == "cuda" and fused.dtype == torch.float32
        else ""
    )
    return (
        f"{record.where}: the replay differs from the fused call in {what} at "
        f"{place}: replay {float(got[tuple(at)]):.6g}, fused {float(expected[tuple(at)]):.6g}; "
        f"max |difference| {largest:.3g}, above {bound}. "
        "The weights, the input and the outputs are the call's as far as their version "
        "counters tell; a change that bypasses them (an edit of .data) shows here too. "
        "Rounding grows with tokens and layers: rtol=/atol= widen the bound." + hint
    )
