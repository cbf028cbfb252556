"""The one table of tolerances: how close two computations of the same values must be.

Two comparisons read it. `Record.check()` compares two views of one fused call's own
tensors (`out` against `h_n`): torch.testing.assert_close's bounds. `Unrolled.check()`
compares a step-by-step replay with the fused kernel, whose rounding differs and grows
with tokens and layers: looser bounds (float16 and bfloat16 are replayed in float32).

>>> import torch
>>> TOLERANCE[torch.float32].identities, TOLERANCE[torch.float32].replay
((1.3e-06, 1e-05), (1e-05, 1e-05))
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["IDENTITIES", "REPLAY", "TOLERANCE", "Tolerance"]


class Tolerance(NamedTuple):
    """`(rtol, atol)` pairs: |a - b| <= atol + rtol * |b|."""

    identities: tuple[float, float]  # two tensors of one call (assert_close's)
    replay: tuple[float, float]  # a replay against the fused call


TOLERANCE = {
    torch.float16: Tolerance((1e-3, 1e-5), (2e-2, 2e-2)),
    torch.bfloat16: Tolerance((1.6e-2, 1e-5), (6e-2, 6e-2)),
    torch.float32: Tolerance((1.3e-6, 1e-5), (1e-5, 1e-5)),
    torch.float64: Tolerance((1e-7, 1e-7), (1e-10, 1e-10)),
}
IDENTITIES = {dtype: bounds.identities for dtype, bounds in TOLERANCE.items()}
REPLAY = {dtype: bounds.replay for dtype, bounds in TOLERANCE.items()}
