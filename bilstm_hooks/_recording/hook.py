"""The forward hook of one recurrent module: the hot path of every hooked call.

It runs on every forward call, so it does as little as it can: the layout and
tags of a call shape are cached, only tensors that hold a graph are copied without it,
and a `Record` is built only when it is read. It never raises and never changes
the output: a call it cannot read is counted, its cause kept, and warned about
once. Calls made while tracing (`torch.jit.trace`) or on fake tensors
(`torch.export`, `torch.compile`) are skipped: they are not real calls.

The registry is written in batches: a call is noted in `registry.PENDING`, and
written (for those of its tensors still alive) when 64 have piled up or something
reads the registry.

Threads: the hot path takes no lock. Each of its writes is one atomic step under the GIL:
appending to `PENDING` and to the kept calls (deques), `next()` of an `itertools.count`,
setting the recorder's latest hook (a one-item list); `flush()` takes the registry's lock.
A kept call is a list that gains its `Record` in place, so reading never moves entries.
"""

from __future__ import annotations

import operator
import weakref
from collections import deque
from typing import Any, TypeAlias

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._base.dynamo import keep_out_of_dynamo
from .._base.versions import Originals
from .._core import registry
from .._core.registry import Pending
from .._follow.entering import track_reach
from .._follow.mode import drop_ended
from .._names.layout import Layout
from .._names.named import CachedLayout
from .call_checks import (
    Skipped,
    cached_layout,
    state_without_graph,
    take_off,
    unusual,
    without_graph,
)
from .entrance import recorded_inside
from .hook_base import HookBase
from .record import Record

__all__ = ["Hook", "Latest"]

_LOCK = registry.LOCK
_PENDING = registry.PENDING
_FLUSH_AT = registry.FLUSH_AT
_flush = registry.flush
_ref = weakref.ref
_Tensor = torch.Tensor
_is_tracing = torch._C._is_tracing
_modes_on = torch._C._is_torch_function_mode_enabled
_no_torch_function = torch._C.DisableTorchFunction
_LAYOUTS_KEPT = 32  # distinct call shapes whose layout is cached, per module
# the layer's settings a layout is derived from, besides the call's shape, and `training`:
# read from the module's `__dict__` by one itemgetter
_SETTINGS: tuple[str, ...] = ("batch_first", "hidden_size", "num_layers", "bidirectional")
_SETTINGS += ("input_size", "proj_size", "training")
_settings_of = operator.itemgetter(*_SETTINGS)
# One kept call, read only here: the arguments of `Record` after its name and module, then
# the Record, appended on first read. A plain list, as `registry.Pending` is a plain tuple.
KeptCall: TypeAlias = list[Any]
_RECORD = 9  # where a kept call holds its Record once read

# the recorder's latest hook, shared by its hooks: `latest[0] = hook`, one atomic step
Latest: TypeAlias = "list[Hook | None]"


class Hook(HookBase):
    """The forward hook of one module, and the calls it keeps.

    What is registered is its bound method `record`: torch calls a bound method
    faster than an object's `__call__`. In a copied or unpickled model the hook
    is inert (`module` None): it records nothing, and takes itself off the
    copy at the copy's first call.
    """

    __slots__ = ("covered", "kept")

    def __init__(
        self,
        module: nn.Module | None,
        name: str,
        history: int,
        detach: bool,
        last_hook: Latest | None = None,
        owner: str = "",
    ) -> None:
        super().__init__(module, name, detach, last_hook, owner)
        self.kept: deque[KeptCall] = deque(maxlen=history)
        # the arguments of `module(...)` calls recorded inside already (`entrance`)
        self.covered: deque[tuple[Any, ...]] = deque(maxlen=4)
        # the layout and tags of each call shape, keyed by all they are derived from, and
        # whether its `out` is a view (batch-first)
        self.layouts: dict[tuple[Any, ...], CachedLayout] = {}

    def record(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any,
        following: bool = False,
    ) -> None:  # fmt: skip
        # The hot path, one frame: calls cost here.
        if self.module is None:
            take_off(self, module)
            return
        if self.covered and recorded_inside(self.covered, args):
            return
        if _modes_on():  # following (or the user's own mode): our own ops are not theirs
            with _no_torch_function():
                drop_ended()  # a follow mode left on by an interrupted forward
                return self.record(module, args, kwargs, output, True)
        try:
            if type(output) is not tuple or len(output) != 2 or _is_tracing():
                unusual(module, output)
            out, state = output
            input = args[0] if args else kwargs["input"]
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            if type(state) is tuple:
                h_n, c_n = state
            else:
                h_n, c_n = state, None
            if type(h_n) is not _Tensor:
                unusual(module, output)
            if type(out) is PackedSequence:
                shape = (None, input.batch_sizes.shape[0], h_n.shape[1])  # tokens, batch
                out_data, input_data = out.data, input.data
            else:
                shape, out_data, input_data = input.shape, out, input
            try:  # the layer's settings, in one C call: faster than module.<name>
                settings = _settings_of(module.__dict__)
            except KeyError:  # a subclass computes some of them
                settings = tuple(getattr(module, name) for name in _SETTINGS)
            key = (shape, settings)
            training = settings[-1]
            cached = self.layouts.get(key)
            if cached is None:  # a new call shape: the slow path
                keep_out_of_dynamo()  # before Dynamo traces it, when compiled
                cached = self._new_layout(key, module, input, out_data, h_n, c_n)
            layout = cached.layout
            try:  # out, h_n, c_n, input: `Record.check` and the replay tell changes in place
                versions = (
                    out_data._version,
                    h_n._version,
                    0 if c_n is None else c_n._version,
                    input_data._version,
                )
            except RuntimeError:  # inference tensors keep no version
                versions = (-1, -1, -1, -1)
            # what the caller holds, before detaching: noted for the registry (see `flush`)
            out_ref, h_n_ref = _ref(out_data), _ref(h_n)
            c_n_ref = None if c_n is None else _ref(c_n)
            pending: Pending = (out_ref, h_n_ref, c_n_ref, cached, versions, following)
            if following and layout.directions == 2:  # its directions' use (`_follow.reach`)
                track_reach(module, cached.out.origin, layout.layers, (out_data, h_n, c_n))
            originals: Originals = None
            if self.detach:  # only what holds a graph: under no_grad nothing needs it
                # `.data`, not `.detach()`: 60% of the cost (no dispatch, no view), but its own
                # version counter: the originals' weak references tell changes in place
                input_ref = None
                if input_data.requires_grad:
                    input_ref = _ref(input_data)
                    input = input.data if input_data is input else without_graph(input)
                if out_data.requires_grad or h_n.requires_grad:
                    out = out.data if out_data is out else without_graph(out)
                    h_n = h_n.data
                    if c_n is not None:
                        c_n = c_n.data
                    originals = (out_ref, h_n_ref, c_n_ref, input_ref)
                elif input_ref is not None:
                    originals = (None, None, None, input_ref)
                if hx is not None:
                    hx = state_without_graph(hx)
            entry: KeptCall = [layout, input, out, h_n, c_n, hx, training, versions, originals]
            # no lock: each of these is one atomic step (see the module's docstring)
            _PENDING.append(pending)
            if following or len(_PENDING) >= _FLUSH_AT:  # following: its look needs keys now
                _flush()
            self.kept.append(entry)
            next(self.counted)
            self.last_hook[0] = self
        except Skipped:
            with _LOCK:
                self.skipped += 1
        except Exception as exc:  # a hook must never break the forward pass
            self._failed(module, exc)

    def _new_layout(
        self,
        key: tuple[Any, ...],
        module: nn.Module,
        input: Any,
        out: torch.Tensor,
        h_n: torch.Tensor,
        c_n: torch.Tensor | None,
    ) -> CachedLayout:
        layout = Layout.of(module, input, h_n)
        cached, wrong = cached_layout(self.name, self.label, module, layout, out, h_n, c_n)
        if wrong:
            self._warn_once(module, wrong)
        if len(self.layouts) >= _LAYOUTS_KEPT:
            self.layouts.clear()  # varying lengths: a small cache, never a growing one
        self.layouts[key] = cached
        return cached

    def latest(self) -> Record | None:
        """The latest kept call as a Record, or None."""
        entries = self.kept_records(last=True)
        return entries[0] if entries else None

    def kept_records(self, last: bool = False) -> list[Record]:
        """Every kept call as a Record, oldest first (`last`: the latest alone)."""
        with _LOCK:
            entries = ([self.kept[-1]] if self.kept else []) if last else list(self.kept)
        return [self._record_of(entry) for entry in entries]

    def _record_of(self, call: KeptCall) -> Record:
        """The Record of a kept call: built once, under the lock, then kept with it."""
        if len(call) == _RECORD:
            assert self.module is not None  # an inert hook keeps nothing
            with _LOCK:
                if len(call) == _RECORD:
                    call.append(Record(self.name, self.module, *call, label=self.label))
        record: Record = call[_RECORD]
        return record

    def clear(self) -> None:
        """Forget the kept calls (the recorder's `clear()`); the count of calls stays."""
        with _LOCK:
            self.kept.clear()
