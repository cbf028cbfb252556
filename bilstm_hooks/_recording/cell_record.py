"""CellRecord: one call of a recurrent cell, one step of a loop, annotated on demand."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import torch
from torch import nn

from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.providers import provider
from .._names.cells import CellLayout, CellRole
from .._names.layout import quoted_label_of
from .._names.named import Named
from .._replay.unrolled import Unrolled
from .cell_calls import StepCall
from .cell_steps import CellSteps

__all__ = ["CellRecord"]


class CellRecord:
    """One call of an `nn.LSTMCell`, `nn.GRUCell` or `nn.RNNCell`: one step of its loop.

    Attributes:
        name: the cell's qualified name in the hooked model.
        module: the cell.
        layout: the cell's sizes and the call's batch.
        step: the call's place in its loop: the k-th call of the cell since the loop
            began (a call given no state, or a new forward of the hooked model).

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> cell = torch.nn.GRUCell(3, 4)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"cell": cell}))
        >>> h = cell(torch.randn(2, 3))
        >>> h = cell(torch.randn(2, 3), h)
        >>> rec["cell"].step, rec["cell"].h.pattern
        (1, 'batch hidden')
        >>> print(bh.describe(h))
        batch=2 hidden=4 · cell.h: token 1 · float32 cpu
    """

    def __init__(
        self,
        name: str,
        module: nn.Module,
        call: StepCall,
        sequence: Sequence[StepCall],
        label: str,
    ) -> None:
        self.name, self.module = name, module
        self.layout: CellLayout = call.layout
        self.step = call.step
        self._call, self._sequence, self._label = call, sequence, label

    @property
    def kind(self) -> str:
        """`"LSTMCell"`, `"GRUCell"` or `"RNNCell"`."""
        return self.layout.kind

    @property
    def label(self) -> str:
        """The cell's name as shown with its tensors."""
        return self._label

    @property
    def where(self) -> str:
        """`'decoder.cell' (LSTMCell, hidden=4), step 3`: the cell and the call, for messages."""
        label = quoted_label_of(self.name, self.module)
        return f"{label} ({self.layout.describe_module()}), step {self.step}"

    def _annotate(self, role: CellRole) -> AnnotatedTensor | None:
        tensor = getattr(self._call, role)
        if tensor is None:
            return None
        origin = f"{self.label}.{role}"
        at = () if role == "input" else (("token", self.step),)
        named = Named(self.layout.axes(role), origin, at=at)
        registry.tag(tensor, named)
        return AnnotatedTensor(tensor, named.axes, origin, at=dict(at))

    @cached_property
    def input(self) -> AnnotatedTensor:
        """The step's input, `batch feature`."""
        return self._annotate("input")  # type: ignore[return-value]

    @cached_property
    def h(self) -> AnnotatedTensor:
        """The hidden state the step returned, `batch hidden`: the loop's `h` at this token."""
        return self._annotate("h")  # type: ignore[return-value]

    @cached_property
    def c(self) -> AnnotatedTensor | None:
        """The cell state the step returned (LSTMCell), `batch hidden`; else None."""
        return self._annotate("c")

    @property
    def h_0(self) -> torch.Tensor | None:
        """The hidden state the step was given (`hx`); None where it started from zeros."""
        hx = self._call.hx
        return hx[0] if isinstance(hx, tuple) else hx

    @property
    def c_0(self) -> torch.Tensor | None:
        """The cell state the step was given (LSTMCell's `cx`); else None."""
        hx = self._call.hx
        return hx[1] if isinstance(hx, tuple) else None

    def steps(self) -> CellSteps:
        """Every kept call of this call's loop so far, as one sequence with a `token` axis."""
        with registry.LOCK:
            calls = list(self._sequence)
        return CellSteps(self.name, self.module, self.label, calls)

    def _alone(self) -> CellSteps:
        return CellSteps(self.name, self.module, self.label, [self._call])

    def check(self) -> None:
        """Prove on the values that this step is the cell's equations on its input and
        state, with the cell's weights (as `nn.LSTM`'s are, one layer, one direction).

        Raises:
            LayoutError: the step's state differs from the equations', by how much.
        """
        self._alone().check()

    def unroll(self, *, gates: bool = False) -> Unrolled:
        """Replay this step from the cell's weights (`gates=True`: keep the gates)."""
        return self._alone().unroll(gates=gates)

    def __repr__(self) -> str:
        return str(provider("cell record text")(self))
