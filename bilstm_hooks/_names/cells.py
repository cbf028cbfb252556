"""The names of a recurrent cell's call: `nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell`.

A cell runs one step: its input is `batch feature`, the state it is given (`hx`, and
`cx` for an LSTMCell) and the state it returns are `batch hidden`; an unbatched call
drops `batch`. A loop of steps reads as one sequence: `token` is the step.

Examples:
    >>> import torch
    >>> layout = CellLayout.of(torch.nn.LSTMCell(3, 4), torch.randn(2, 3))
    >>> layout.axes("h").pattern, layout.axes("input").described()
    ('batch hidden', 'batch=2 feature=3')
    >>> layout.steps_axes("h", tokens=5).described()
    'batch=2 token=5 hidden=4'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .layout import Axes

__all__ = ["CELL_LAYERS", "CELL_TYPES", "CellLayout", "CellRole", "cell_kind", "is_cell_state"]

CELL_TYPES: tuple[type[nn.Module], ...] = (nn.LSTMCell, nn.GRUCell, nn.RNNCell)
# the one-layer, one-direction layer each cell is a step of (same weights, same equations)
CELL_LAYERS: dict[str, type[nn.Module]] = {
    "LSTMCell": nn.LSTM,
    "GRUCell": nn.GRU,
    "RNNCell": nn.RNN,
}
CellRole = Literal["input", "h", "c"]


def is_cell_state(origin: str) -> bool:
    """Whether `origin` names a state a cell returned (`decoder.cell.h`, `.c`): a layer's
    tensors are `.out`, `.h_n`, `.c_n` and `.input`, and what follows them says so."""
    return origin.endswith((".h", ".c"))


def cell_kind(module: nn.Module) -> str:
    """`"LSTMCell"`, `"GRUCell"` or `"RNNCell"` for a cell (subclasses included)."""
    for cls in CELL_TYPES:
        if isinstance(module, cls):
            return cls.__name__
    raise TypeError(
        f"expected an nn.LSTMCell, nn.GRUCell or nn.RNNCell, got {type(module).__qualname__}"
    )


@dataclass(frozen=True, slots=True)
class CellLayout:
    """A cell's sizes plus the shape of one call (batched or not)."""

    kind: str
    hidden: int
    features: int
    batch: int | None  # None for an unbatched (1-D) call

    @classmethod
    def of(cls, module: nn.Module, input: torch.Tensor) -> CellLayout:
        """The layout of `module` (a cell) called on `input`."""
        if not isinstance(input, torch.Tensor) or input.dim() not in (1, 2):
            got = (
                f"a {input.dim()}-D tensor of shape {tuple(input.shape)}"
                if isinstance(input, torch.Tensor)
                else type(input).__qualname__
            )
            raise ValueError(
                f"expected the input of a {type(module).__name__} to be a 1-D or 2-D "
                f"tensor, got {got}"
            )
        return cls(
            kind=cell_kind(module),
            hidden=int(module.hidden_size),  # type: ignore[arg-type]
            features=int(module.input_size),  # type: ignore[arg-type]
            batch=input.shape[0] if input.dim() == 2 else None,
        )

    @property
    def batched(self) -> bool:
        return self.batch is not None

    @property
    def layer_kind(self) -> str:
        """`"LSTM"` for an LSTMCell: the layer a loop of this cell is one step of."""
        return self.kind.removesuffix("Cell")

    def axes(self, role: CellRole) -> Axes:
        """Named axes of `role` in one call: `batch feature` or `batch hidden`."""
        return self._axes(role, ())

    def steps_axes(self, role: CellRole, tokens: int) -> Axes:
        """Named axes of `role` over a loop of `tokens` steps: `batch token hidden`."""
        return self._axes(role, (("token", tokens),))

    def _axes(self, role: CellRole, token: tuple[tuple[str, int], ...]) -> Axes:
        if role not in ("input", "h", "c"):
            raise ValueError(f"expected one of input, h, c, got {role!r}")
        last = ("feature", self.features) if role == "input" else ("hidden", self.hidden)
        batch: tuple[tuple[str, int], ...] = (("batch", self.batch or 0),) if self.batched else ()
        named = (*batch, *token, last)
        return Axes.of([(name,) for name, _ in named], dict(named))

    def describe_module(self) -> str:
        """`LSTMCell, hidden=4`, plus `unbatched` where it applies: for messages."""
        return f"{self.kind}, hidden={self.hidden}" + ("" if self.batched else ", unbatched")
