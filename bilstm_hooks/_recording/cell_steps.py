"""A loop of cell calls read as one sequence: `rec[cell].steps()`.

The steps are stacked along a `token` axis: `input` is `batch token feature`, `h` (and
`c` for an LSTMCell) `batch token hidden`, the step's place in the loop. A loop of a
cell whose every step is given the previous step's state is one call of the
one-layer, one-direction layer with the same weights (`as_layer()`): `check()` proves
it on the values, and `unroll()` and `diagram()` read the loop as that layer's call.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cached_property

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.errors import LayoutError
from .._base.tolerance import REPLAY
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.picture import Diagram
from .._core.providers import provider
from .._names.cells import CellLayout, CellRole
from .._names.layout import Layout, quoted_label_of
from .._names.named import Named
from .._replay.unrolled import Unrolled
from .cell_calls import State, StepCall, continues, layer_of
from .record import Record

__all__ = ["CellSteps"]


class CellSteps:
    """The kept calls of one loop of a cell, as one sequence with a `token` axis.

    Attributes:
        name: the cell's qualified name in the hooked model.
        module: the cell.
        first: the step of the first kept call (0 unless the loop ran past what is kept).

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> cell = torch.nn.LSTMCell(3, 4)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"cell": cell}))
        >>> state = None
        >>> for x in torch.randn(5, 2, 3):  # 5 steps of a batch of 2
        ...     state = cell(x, state)
        >>> steps = rec["cell"].steps()
        >>> steps.h
        AnnotatedTensor[batch=2, token=5, hidden=4]
        >>> steps.check()  # the loop is one nn.LSTM call with the cell's weights
    """

    def __init__(self, name: str, module: nn.Module, label: str, calls: Sequence[StepCall]):
        if not calls:
            raise ValueError(f"{quoted_label_of(name, module)} kept no step of this loop")
        self.name, self.module, self._label = name, module, label
        self._calls = list(calls)
        self.first = self._calls[0].step

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def layout(self) -> CellLayout:
        """The cell's sizes and the first call's batch (the widest, where it shrinks)."""
        return self._calls[0].layout

    @cached_property
    def batch_sizes(self) -> tuple[int, ...] | None:
        """Each step's batch, where the loop's batch shrinks (the longest sequences first,
        as packing sorts them: an image-captioning decoder stepping `h[:batch_t]`); None
        where every step has the same batch, or the calls are unbatched."""
        sizes = tuple(call.input.shape[0] for call in self._calls)
        if not self.layout.batched or len(set(sizes)) == 1:
            return None
        for step, (before, now) in enumerate(itertools.pairwise(sizes), self.first + 1):
            if now > before:
                raise ValueError(
                    f"{self.where}: the batch grows from {before} to {now} at step {step}; "
                    "a loop reads as one sequence where its batch stays or shrinks (the "
                    "longest sequences first). Read its calls one by one: rec.records(cell)"
                )
        return sizes

    @cached_property
    def lengths(self) -> torch.Tensor | None:
        """Steps per sequence (1-D, in batch order) where the batch shrinks, else None."""
        sizes = self.batch_sizes
        if sizes is None:
            return None
        return torch.tensor([sum(size > row for size in sizes) for row in range(sizes[0])])

    @property
    def label(self) -> str:
        """The cell's name as shown with its tensors."""
        return self._label

    @property
    def where(self) -> str:
        """`'decoder.cell' (LSTMCell, hidden=4, 12 steps)`, as messages name the loop."""
        steps = f"{len(self)} step{'s' if len(self) != 1 else ''}"
        return (
            f"{quoted_label_of(self.name, self.module)} ({self.layout.describe_module()}, {steps})"
        )

    def _stacked(self, role: CellRole) -> AnnotatedTensor | None:
        values = [getattr(call, role) for call in self._calls]
        if any(value is None for value in values):
            return None
        if self.batch_sizes is None:
            tensor = torch.stack(values, dim=1 if self.layout.batched else 0)
        else:  # padded with zeros past each sequence's last step, as a packed call's `out`
            tensor = values[0].new_zeros(values[0].shape[0], len(values), *values[0].shape[1:])
            for step, value in enumerate(values):
                tensor[: value.shape[0], step] = value
        origin = f"{self.label}.{role}"
        lengths = None if self.lengths is None else tuple(self.lengths.tolist())
        notes = (f"from step {self.first}",) if self.first else ()  # where the tokens sit
        named = Named(self.layout.steps_axes(role, len(self)), origin, notes=notes, lengths=lengths)
        registry.tag(tensor, named)
        return AnnotatedTensor(tensor, named.axes, origin, notes=notes, lengths=lengths)

    def _packed(self, role: CellRole) -> torch.Tensor | PackedSequence:
        """The steps of `role` as a layer takes them: stacked, or packed where the batch shrinks."""
        if self.batch_sizes is None:
            return self._stacked(role).tensor  # type: ignore[union-attr]
        data = torch.cat([getattr(call, role) for call in self._calls])
        return PackedSequence(data, torch.tensor(self.batch_sizes))

    def _last(self, role: CellRole) -> torch.Tensor | None:
        """Each sequence's `role` at its last step: `h_n`'s row of the one-layer layer."""
        stacked = self._stacked(role)
        if stacked is None:
            return None
        tensor = stacked.tensor
        if self.lengths is None:
            return tensor.select(-2, -1)
        rows = torch.arange(tensor.shape[0])
        return tensor[rows, self.lengths - 1]

    @cached_property
    def input(self) -> AnnotatedTensor:
        """Every step's input, `batch token feature`."""
        return self._stacked("input")  # type: ignore[return-value]

    @cached_property
    def h(self) -> AnnotatedTensor:
        """Every step's returned hidden state, `batch token hidden`."""
        return self._stacked("h")  # type: ignore[return-value]

    @cached_property
    def c(self) -> AnnotatedTensor | None:
        """Every step's returned cell state (LSTMCell), `batch token hidden`; else None."""
        return self._stacked("c")

    @property
    def h_0(self) -> torch.Tensor | None:
        """The hidden state the first kept step was given; None where it was zeros."""
        hx = self._calls[0].hx
        return hx[0] if isinstance(hx, tuple) else hx

    @property
    def c_0(self) -> torch.Tensor | None:
        """The cell state the first kept step was given (LSTMCell); else None."""
        hx = self._calls[0].hx
        return hx[1] if isinstance(hx, tuple) else None

    def as_layer(self) -> nn.Module:
        """The one-layer, one-direction `nn.LSTM`/`nn.GRU`/`nn.RNN` with a copy of the cell's
        weights (batch-first): the layer a loop of this cell is one call of."""
        return layer_of(self.module, self.layout)

    def as_record(self) -> Record:
        """The loop as a `Record` of `as_layer()`'s call (packed, where the batch shrinks):
        what `unroll()` and `diagram()` read."""
        layout = self.layout
        call_layout = Layout(
            kind=layout.layer_kind, layers=1, directions=1, hidden=layout.hidden,
            h_out=layout.hidden, features=layout.features, batch_first=True,
            batch=layout.batch, tokens=len(self), packed=self.batch_sizes is not None,
        )  # fmt: skip
        h_n, c_n = self._last("h"), self._last("c")
        assert h_n is not None
        return Record(
            self.name, self.as_layer(), call_layout, self._packed("input"), self._packed("h"),
            h_n[None], None if c_n is None else c_n[None], self._layer_state(),
            training=False, label=self.label,
        )  # fmt: skip

    def _layer_state(self) -> State:
        """`h_0` (and `c_0`) as the layer takes them: a `(layer direction)` axis in front,
        the first step's batch."""
        h_0, c_0 = self.h_0, self.c_0
        if h_0 is None:
            return None
        batch = self.layout.batch
        if batch is not None:
            h_0, c_0 = h_0[:batch], None if c_0 is None else c_0[:batch]
        return (h_0[None], c_0[None]) if c_0 is not None else h_0[None]

    def check(self) -> None:
        """Prove on the values that this loop is one call of `as_layer()`.

        - every step after the first was given the state the step before returned;
        - `as_layer()` run on `input` from `h_0` (`c_0`) gives `h` at every token (and
          `c`'s last token), within the replay tolerance of the cell's dtype.

        Raises:
            LayoutError: a step was given another state (the loop changes its state
                between steps: attention, zoneout), or the layer's call differs; the
                message names the step and by how much.
        """
        broken = self._broken_step()
        if broken is not None:
            raise LayoutError(
                f"{self.where}: {broken}, so the loop is not one call of an "
                f"nn.{self.layout.layer_kind}"
            )
        self._check_against_layer()

    def _broken_step(self) -> str | None:
        """Where a step was not given what the step before returned, or None."""
        previous = self._calls[0]
        for call in self._calls[1:]:
            given = call.hx if isinstance(call.hx, tuple) else (call.hx,)
            returned = (previous.h, previous.c) if previous.c is not None else (previous.h,)
            if call.hx is None or not all(
                a is not None and continues(a, b) for a, b in zip(given, returned, strict=True)
            ):
                return (
                    f"step {call.step} was given a state that is not what step "
                    f"{previous.step} returned: the loop changes its state between steps"
                )
            previous = call
        return None

    def _check_against_layer(self) -> None:
        with torch.no_grad():
            out, state = self.as_layer()(self._packed("input"), self._layer_state())
        if isinstance(out, PackedSequence):
            out, _ = pad_packed_sequence(out, batch_first=True)
        h = self.h.tensor
        rtol, atol = REPLAY.get(h.dtype, REPLAY[torch.float32])
        pairs = [("h", out, h)]
        last_c = self._last("c")
        if last_c is not None:
            pairs.append(("c", state[1][0], last_c))
        for role, theirs, ours in pairs:
            gap = (theirs.to(ours.dtype) - ours).abs()
            bad = gap > atol + rtol * ours.abs()
            if bool(bad.any()):
                token = int(bad.nonzero()[0][-2]) if role == "h" else len(self) - 1
                raise LayoutError(
                    f"{self.where}: nn.{self.layout.layer_kind} with the cell's weights "
                    f"gives another {role} at step {self.first + token}: they differ by up "
                    f"to {float(gap.max()):.3g} (tolerance {atol:g} + {rtol:g}·|value|)"
                )

    def unroll(self, *, gates: bool = False) -> Unrolled:
        """Replay the loop from the cell's weights: every step's state (and gates).

        Raises:
            ValueError: a step was given another state than the step before returned:
                no one replay holds for the loop (`CellRecord.unroll()` replays a step).
        """
        broken = self._broken_step()
        if broken is not None:
            raise ValueError(f"cannot unroll {self.where} as one sequence: {broken}")
        return self.as_record().unroll(gates=gates)

    def diagram(self, *, max_tokens: int = 12, values: bool = False) -> Diagram:
        """The loop as a one-layer, one-direction grid of its steps (an SVG `Diagram`)."""
        return self.as_record().diagram(max_tokens=max_tokens, values=values)

    def __repr__(self) -> str:
        return str(provider("cell steps text")(self))
