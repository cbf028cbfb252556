"""The forward hook of one recurrent cell (`nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell`).

A cell runs one step per call; a loop of calls is one sequence. The hook keeps the
steps of the latest sequences (`history` of them) and tags each step's returned state
as the loop's `h` at that token: `batch hidden · decoder.cell.h: token 3`.

A new sequence begins where a call is given no state (`hx` None, torch's zeros) or
where a forward of the hooked model began since the cell's previous call. Within
one, the step is the call's place: the k-th call of the cell since the sequence began.
A sequence keeps its latest `STEPS_KEPT` steps.

Tensors are kept without their graph (`.data`: the values, not copied), unless the
recorder was made with `detach=False`. The hook never raises and never changes what the
cell returns: a call it cannot read is counted, and warned about once.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import torch
from torch import nn

from .._base.dynamo import keep_out_of_dynamo
from .._core import registry
from .._core.registry import tag_new
from .._names.cells import CellLayout
from .._names.layout import Axes
from .._names.named import Named
from .call_checks import Skipped, is_fake, state_without_graph, take_off
from .cell_calls import StepCall
from .cell_record import CellRecord
from .hook_base import HookBase

__all__ = ["STEPS_KEPT", "CellHook", "ForwardCount"]

STEPS_KEPT = 4096  # steps kept per sequence: a generation loop outside any forward is bounded
_Tensor = torch.Tensor
_is_tracing = torch._C._is_tracing
_modes_on = torch._C._is_torch_function_mode_enabled
_no_torch_function = torch._C.DisableTorchFunction
_LAYOUTS_KEPT = 32


Sequence = deque  # of StepCall, oldest first


class ForwardCount:
    """The forward pre-hook of a model with cells (its bound method `began`): counts the
    model's forwards begun, each of which begins a new loop of every cell."""

    OURS = True  # a hook of this library's (`_base.hook_dicts.is_ours`)
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = [0]

    def began(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.count[0] += 1


class CellHook(HookBase):
    """The forward hook of one cell (its bound method `record`), and the sequences it keeps.

    `forwards` is the recorder's count of the hooked model's forwards begun (a one-item
    list); a copied or unpickled model's hook is inert, as `hook.Hook` is.
    """

    __slots__ = ("forward_seen", "forwards", "sequences")

    def __init__(
        self,
        module: nn.Module | None,
        name: str,
        history: int,
        detach: bool,
        last_hook: list[Any] | None = None,
        owner: str = "",
        forwards: list[int] | None = None,
    ) -> None:
        super().__init__(module, name, detach, last_hook, owner)
        self.forwards: list[int] = [0] if forwards is None else forwards
        self.forward_seen = -1
        self.sequences: deque[Sequence[StepCall]] = deque(maxlen=history)
        self.layouts: dict[torch.Size, CachedCell] = {}  # by the input's shape

    def record(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        if self.module is None:
            take_off(self, module)
            return
        if _modes_on():  # following (or the user's own mode): our own ops are not theirs
            with _no_torch_function():
                return self.record(module, args, kwargs, output)
        try:  # the hot path, one frame: each step of a loop costs here
            input = args[0] if args else kwargs["input"]
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            h, c = output if type(output) is tuple else (output, None)
            if type(h) is not _Tensor and (not isinstance(h, _Tensor) or is_fake(h)):
                raise Skipped  # a FakeTensor (torch.export, torch.compile) or not a tensor
            if _is_tracing():
                raise Skipped
            cached = self.layouts.get(input.shape)
            if cached is None:  # a new call shape (the label qualified since: cleared)
                cached = self._new_layout(module, input)
            try:  # h, c, input: what `CellRecord` tells changes in place by
                versions = (h._version, 0 if c is None else c._version, input._version)
            except RuntimeError:  # inference tensors keep no version
                versions = (-1, -1, -1)
            forwards = self.forwards[0]
            if hx is None or self.forward_seen != forwards or not self.sequences:
                self.sequences.append(deque(maxlen=STEPS_KEPT))  # a new loop
                self.forward_seen = forwards
            steps = self.sequences[-1]
            step = steps[-1].step + 1 if steps else 0
            at = (("token", step),)
            tag_new(h, Named(cached.h, cached.h_origin, at), versions[0])
            if c is not None:
                tag_new(c, Named(cached.c, cached.c_origin, at), versions[1])
            if self.detach and (h.requires_grad or input.requires_grad or _holds_graph(hx)):
                input, hx, h, c = (state_without_graph(v) for v in (input, hx, h, c))
            steps.append(StepCall(cached.layout, step, input, hx, h, c, versions))
            next(self.counted)
            self.last_hook[0] = self
        except Skipped:
            with registry.LOCK:
                self.skipped += 1
        except Exception as exc:  # a hook must never break the forward pass
            self._failed(module, exc)

    def _new_layout(self, module: nn.Module, input: torch.Tensor) -> CachedCell:
        keep_out_of_dynamo()  # before Dynamo traces it, when compiled
        layout = CellLayout.of(module, input)
        cached = CachedCell(
            layout, layout.axes("h"), layout.axes("c"), f"{self.label}.h", f"{self.label}.c"
        )
        if len(self.layouts) >= _LAYOUTS_KEPT:
            self.layouts.clear()  # varying batch sizes: a small cache, never a growing one
        self.layouts[input.shape] = cached
        return cached

    def latest(self) -> CellRecord | None:
        """The latest kept call as a CellRecord, or None."""
        with registry.LOCK:
            if not self.sequences or not self.sequences[-1]:
                return None
            sequence = self.sequences[-1]
            call = sequence[-1]
        return self._record_of(call, sequence)

    def kept_records(self, last: bool = False) -> list[CellRecord]:
        """Every kept call as a CellRecord, oldest first (`last`: the latest alone)."""
        if last:
            latest = self.latest()
            return [] if latest is None else [latest]
        with registry.LOCK:
            kept = [(call, sequence) for sequence in self.sequences for call in sequence]
        return [self._record_of(call, sequence) for call, sequence in kept]

    def _record_of(self, call: StepCall, sequence: Sequence[StepCall]) -> CellRecord:
        with registry.LOCK:
            if call.record is None:
                assert self.module is not None  # an inert hook keeps nothing
                call.record = CellRecord(self.name, self.module, call, sequence, self.label)
            record: CellRecord = call.record
            return record

    def clear(self) -> None:
        """Forget the kept calls; the count of calls stays."""
        with registry.LOCK:
            self.sequences.clear()


class CachedCell(NamedTuple):
    """What a cell's hook derives once per input shape: the layout, the axes and origins of
    `h` and `c` (made with the label: a recorder made later may qualify it, which clears
    the cache, `labels`)."""

    layout: CellLayout
    h: Axes
    c: Axes
    h_origin: str
    c_origin: str


def _holds_graph(hx: Any) -> bool:
    if type(hx) is tuple and len(hx) == 2:  # an LSTMCell's (h, c)
        h, c = hx
        return bool(getattr(h, "requires_grad", False) or getattr(c, "requires_grad", False))
    return bool(getattr(hx, "requires_grad", False))
