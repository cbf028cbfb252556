"""One recorded call of a cell, what makes calls one loop, and the layer a loop is one
call of.

Examples:
    >>> import torch
    >>> from bilstm_hooks._names.cells import CellLayout
    >>> cell = torch.nn.GRUCell(3, 4)
    >>> layer = layer_of(cell, CellLayout.of(cell, torch.randn(2, 3)))
    >>> type(layer).__name__, layer.num_layers, layer.batch_first
    ('GRU', 1, True)
    >>> torch.equal(layer.weight_hh_l0, cell.weight_hh)
    True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._names.cells import CELL_LAYERS, CellLayout

__all__ = ["State", "StepCall", "continues", "layer_of"]

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class StepCall:
    """One recorded call of a cell: what it was given and what it returned."""

    __slots__ = ("c", "h", "hx", "input", "layout", "record", "step", "versions")

    def __init__(
        self,
        layout: CellLayout,
        step: int,
        input: torch.Tensor,
        hx: State,
        h: torch.Tensor,
        c: torch.Tensor | None,
        versions: tuple[int, int, int],
    ) -> None:
        self.layout, self.step, self.input, self.hx = layout, step, input, hx
        self.h, self.c, self.versions = h, c, versions
        self.record: Any = None  # its CellRecord, built on first read


def layer_of(cell: nn.Module, layout: CellLayout) -> nn.Module:
    """The one-layer, one-direction `nn.LSTM`/`nn.GRU`/`nn.RNN` with a copy of `cell`'s
    weights, batch-first, on the cell's device and dtype, in its train mode."""
    options: dict[str, Any] = {"bias": bool(getattr(cell, "bias", True))}
    if layout.kind == "RNNCell":
        options["nonlinearity"] = cell.nonlinearity
    weight: torch.Tensor = cell.weight_ih  # type: ignore[assignment]
    layer = CELL_LAYERS[layout.kind](layout.features, layout.hidden, batch_first=True, **options)
    layer = layer.to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if getattr(cell, name, None) is not None:
                getattr(layer, f"{name}_l0").copy_(getattr(cell, name))
    return layer.train(cell.training)


def continues(given: torch.Tensor, returned: torch.Tensor) -> bool:
    """Whether a step was given what the step before returned: all of it, or its first
    rows where the batch shrinks (`h[:batch_t]`)."""
    if given.dim() == returned.dim() == 2 and given.shape[0] < returned.shape[0]:
        returned = returned[: given.shape[0]]
    return given.shape == returned.shape and torch.equal(given, returned)
