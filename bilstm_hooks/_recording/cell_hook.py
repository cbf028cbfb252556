"""The forward hook of one recurrent cell (`nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell`).

A cell runs one step per call; a loop of calls is one sequence. The hook keeps the
steps of the latest sequences (`history` of them) and tags each step's returned state
as the loop's `h` at that token: `batch hidden · decoder.cell.h: token 3`.

A new sequence begins where a call is given no state (`hx` None, torch's zeros) or
where a forward of the hooked model began since the cell's previous call. Within
one, the step is the call's place: the k-th call of the cell since the sequence began.
A sequence keeps its latest `STEPS_KEPT` steps.

Tensors are kept without their graph (`detach()`: the values, not copied), unless the
recorder was made with `detach=False`. The hook never raises and never changes what the
cell returns: a call it cannot read is counted, and warned about once.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections import deque
from typing import Any, NamedTuple

import torch
from torch import nn

from .._base.callers import callers_level
from .._base.dynamo import keep_out_of_dynamo
from .._core import registry
from .._core.registry import tag_new
from .._names.cells import CellLayout
from .._names.layout import Axes, label_of
from .._names.named import Named
from .call_checks import Skipped, is_fake, take_off, who
from .cell_calls import StepCall
from .cell_record import CellRecord

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


class CellHook:
    """The forward hook of one cell (its bound method `record`), and the sequences it keeps.

    `forwards` is the recorder's count of the hooked model's forwards begun (a one-item
    list); a copied or unpickled model's hook is inert, as `hook.Hook` is.
    """

    OURS = True  # a hook of this library's (`_base.hook_dicts.is_ours`)

    __slots__ = (
        "__weakref__",
        "counted",
        "detach",
        "failure",
        "failures",
        "forward_seen",
        "forwards",
        "label",
        "last_hook",
        "layouts",
        "module",
        "name",
        "owner",
        "sequences",
        "skipped",
        "warned",
    )

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
        self.module = module
        self.name = name
        self.owner = owner
        self.label = name if module is None else label_of(name, module)
        self.detach = detach
        self.last_hook: list[Any] = [None] if last_hook is None else last_hook
        self.forwards: list[int] = [0] if forwards is None else forwards
        self.forward_seen = -1
        self.sequences: deque[Sequence[StepCall]] = deque(maxlen=history)
        self.counted = itertools.count()
        self.failures = 0
        self.failure = ""
        self.skipped = 0
        self.warned = False
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
            if cached is None or cached.label is not self.label:  # a new call shape
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
                input, hx, h, c = (_without_graph(v) for v in (input, hx, h, c))
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
            layout, layout.axes("h"), layout.axes("c"), f"{self.label}.h", f"{self.label}.c",
            self.label,
        )  # fmt: skip
        if len(self.layouts) >= _LAYOUTS_KEPT:
            self.layouts.clear()  # varying batch sizes: a small cache, never a growing one
        self.layouts[input.shape] = cached
        return cached

    @property
    def calls(self) -> int:
        """How many calls were recorded."""
        return int(repr(self.counted)[len("count(") : -1])

    def _failed(self, module: nn.Module, exc: Exception) -> None:
        cause = f"{type(exc).__name__}: {exc}"  # the message only: no traceback kept
        with registry.LOCK:
            self.failures += 1
            self.failure = cause
            if self.warned:
                return
            self.warned = True
        with contextlib.suppress(Exception):  # under -W error, too: never break the forward
            warnings.warn(
                f"bilstm_hooks could not record a call of {who(self.name, module)}: {cause}. "
                "The forward pass is unaffected; rec[...] names the latest cause. "
                "Later problems of this module are not warned about.",
                RuntimeWarning,
                stacklevel=callers_level(),
            )

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

    def __reduce__(self) -> tuple[type[CellHook], tuple[None, str, int, bool]]:
        return (CellHook, (None, self.name, 1, self.detach))  # a copy's hook: inert


class CachedCell(NamedTuple):
    """What a cell's hook derives once per input shape: the layout, the axes and origins of
    `h` and `c`, and the label they were made with (a recorder made later may qualify it)."""

    layout: CellLayout
    h: Axes
    c: Axes
    h_origin: str
    c_origin: str
    label: str


def _holds_graph(hx: Any) -> bool:
    if type(hx) is tuple and len(hx) == 2:  # an LSTMCell's (h, c)
        h, c = hx
        return bool(getattr(h, "requires_grad", False) or getattr(c, "requires_grad", False))
    return bool(getattr(hx, "requires_grad", False))


def _without_graph(value: Any) -> Any:
    if isinstance(value, _Tensor):
        return value.detach() if value.requires_grad else value
    if type(value) is tuple:
        return tuple(_without_graph(v) for v in value)
    return value
