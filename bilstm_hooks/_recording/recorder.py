"""attach_hooks() and the Recorder it returns."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator
from typing import overload

from torch import nn
from torch.utils.hooks import RemovableHandle

from .._base.arguments import expect_bool
from .._base.dynamo import keep_out_of_dynamo
from .._base.keywords import checked_keywords
from .._core import registry
from .._core.providers import provider
from .._follow.entering import FollowHooks
from .._names.cells import CELL_TYPES
from .._names.layout import label_of
from . import entrance, labels, optimizer_watch, save_guard
from .call_checks import weights_state, weights_used_since, who, why_none
from .cell_hook import CellHook, ForwardCount
from .cell_record import CellRecord
from .entrance_checks import EntranceCheck
from .found import recurrent_modules
from .hook import Hook, Latest
from .record import Record

__all__ = ["Recorder", "attach_hooks"]

_MAX_HISTORY = sys.maxsize
"""The most calls `attach_hooks(history=)` keeps per module: what a deque takes (no limit)."""


@checked_keywords
def attach_hooks(
    model: nn.Module, *, history: int = 1, detach: bool = True, follow: bool = False
) -> Recorder:
    """Hook every `nn.LSTM`, `nn.GRU`, `nn.RNN` and every `nn.LSTMCell`, `nn.GRUCell`,
    `nn.RNNCell` in `model` (subclasses included) and record their calls.

    Hooks never change outputs or gradients. Use the result as a context manager
    to remove them again; the records stay readable afterwards.

    Args:
        model: any module; the recurrent layers may be nested anywhere in it,
            be the model itself, or sit inside `DataParallel`/`DistributedDataParallel`.
        history: how many calls to keep per module, 1 to `sys.maxsize` (oldest dropped
            first).
        detach: keep the call's tensors without their autograd graph (the same values,
            not copied), so that records never hold a graph alive. `False` keeps the
            tensors the layer returned.
        follow: carry the names through the torch ops of each forward of `model`
            (`pad_packed_sequence`, `cat`, elementwise ops, reductions, a Linear
            head) and warn about layout bugs (`bh.LayoutWarning`), as `bh.follow()`
            does for a block; a recurrent layer called outside the forward
            (`model.embed(x)`, a training step) is followed until the function that
            called into the model returns. Off by default: it costs a Python call
            per torch op.

    Returns:
        A [`Recorder`][bilstm_hooks.Recorder]; `rec["encoder"]` is the latest
        [`Record`][bilstm_hooks.Record] of the module named `encoder`.

    Raises:
        TypeError: `model` is not an `nn.Module`, or an option has the wrong type.
        ValueError: `model` holds no recurrent layer, or `history` < 1 or > `sys.maxsize`.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> model = torch.nn.Sequential(torch.nn.GRU(3, 4, batch_first=True))
        >>> with bh.attach_hooks(model) as rec:
        ...     out, h_n = model(torch.randn(2, 6, 3))
        >>> rec.names
        ('0',)
        >>> rec["0"].h_n
        AnnotatedTensor[(layer=1 direction=1), batch=2, hidden=4]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"attach_hooks expected an nn.Module, got {type(model).__qualname__}")
    if isinstance(history, bool) or not isinstance(history, int):
        raise TypeError(f"expected history as an int >= 1, got {history!r}")
    if history < 1:
        raise ValueError(f"expected history >= 1 (calls kept per module), got {history}")
    if history > _MAX_HISTORY:
        raise ValueError(
            f"expected history as an int between 1 and {_MAX_HISTORY} (sys.maxsize), got {history}"
        )
    expect_bool("detach", detach)
    expect_bool("follow", follow)
    found = recurrent_modules(model)
    keep_out_of_dynamo()  # where Dynamo is imported already (else at a hooked call)
    cells = {name for name, _, kind in found if kind == "cell"}
    recorder = Recorder(
        [(name, m) for name, m, _ in found], history=history, detach=detach,
        owner=type(model).__name__, cells=cells, model=model,
    )  # fmt: skip
    if follow:
        save_guard.install(every_module=True)
        recorder._follow = FollowHooks(model, [m for _, m, _ in found])
    return recorder


class Recorder:
    """The hooks `attach_hooks` added and the records they keep.

    Index it with a module's qualified name or the module itself.
    """

    def __init__(
        self,
        modules: list[tuple[str, nn.Module]],
        *,
        history: int,
        detach: bool,
        owner: str = "",
        cells: Collection[str] = (),
        model: nn.Module | None = None,
    ) -> None:
        self._modules = dict(modules)
        self._names_by_id = {id(m): name for name, m in modules}
        self._last: Latest = [None]  # the hook of the latest call, set by the hooks
        forwards = ForwardCount()  # the model's forwards begun: each begins a cell's loop
        self._hooks: dict[str, Hook | CellHook] = {
            name: (
                CellHook(module, name, history, detach, self._last, owner, forwards.count)
                if name in cells
                else Hook(module, name, history, detach, self._last, owner)
            )
            for name, module in self._modules.items()
        }
        layers = {name: hook for name, hook in self._hooks.items() if isinstance(hook, Hook)}
        labels.distinguish(self._hooks.values())
        self._history = history
        self._weights_then = {name: weights_state(m) for name, m in self._modules.items()}
        self._removed = False
        self._follow: FollowHooks | None = None
        save_guard.install()
        entrance.install()
        for name, layer_hook in layers.items():
            entrance.hook_directly(self._modules[name], layer_hook)
        optimizer_watch.watch(layers.values())
        self._handles: list[RemovableHandle] = [
            module.register_forward_hook(self._hooks[name].record, with_kwargs=True)
            for name, module in modules
        ]
        for name, layer_hook in layers.items():  # what goes in, checked (`entrance_checks`)
            check = EntranceCheck(layer_hook.label, layers).check
            self._handles.append(self._modules[name].register_forward_pre_hook(check))
        if cells and model is not None and not isinstance(model, CELL_TYPES):
            self._handles.append(model.register_forward_pre_hook(forwards.began))

    # -- reading -------------------------------------------------------------------
    def _name_of(self, key: str | nn.Module) -> str:
        if isinstance(key, nn.Module):
            name = self._names_by_id.get(id(key))
            if name is None:
                raise KeyError(
                    f"{type(key).__name__} module is not hooked by this recorder; "
                    f"hooked: {self._known()}"
                )
            return name
        if not isinstance(key, str):
            raise TypeError(f"expected a module name (str) or module, got {type(key).__qualname__}")
        if key not in self._modules:
            raise KeyError(f"no hooked module named {key!r}; hooked: {self._known()}")
        return key

    def _known(self) -> str:
        return ", ".join(
            repr(name) if name else f"'' ({label_of(name, module)}, the model itself)"
            for name, module in self._modules.items()
        )

    @overload
    def __getitem__(self, key: nn.LSTMCell | nn.GRUCell | nn.RNNCell) -> CellRecord: ...  # type: ignore[overload-overlap]
    @overload
    def __getitem__(self, key: str | nn.Module) -> Record: ...
    def __getitem__(self, key: str | nn.Module) -> Record | CellRecord:
        """The latest record of one hooked module (its qualified name, or the module): a
        `Record`, or for a cell a `CellRecord` (one step of its loop). Type checkers read
        a `CellRecord` where the key is the cell itself, else a `Record`.

        Raises:
            KeyError: `key` names no module this recorder hooked.
            LookupError: the module is hooked but has no record: not called yet, its
                records cleared, or none of its calls could be recorded (it says which).
        """
        name = self._name_of(key)
        hook = self._hooks[name]
        record = hook.latest()
        if record is None:
            module = self._modules[name]
            used = weights_used_since(module, self._weights_then[name])
            raise LookupError(f"{who(name, module)} {why_none(hook, self._removed, used)}")
        return record

    def records(self, key: str | nn.Module | None = None) -> list[Record | CellRecord]:
        """The kept records of one module, oldest first (at most `history`); without a
        key, those of every hooked module, module by module in `names` order.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4)
            >>> rec = bh.attach_hooks(gru, history=2)
            >>> _ = gru(torch.randn(5, 2, 3)), gru(torch.randn(5, 2, 3))
            >>> len(rec.records()), len(rec.records(gru)), rec.calls()
            (2, 2, 2)
        """
        hooks = self._hooks.values() if key is None else [self._hooks[self._name_of(key)]]
        kept: list[Record | CellRecord] = [r for hook in hooks for r in hook.kept_records()]
        return kept

    @property
    def names(self) -> tuple[str, ...]:
        """Qualified names of the modules this recorder hooked, in `named_modules()` order."""
        return tuple(self._modules)

    @property
    def hooked(self) -> bool:
        """Whether the hooks are still attached (False after `remove()`)."""
        return not self._removed

    @property
    def modules(self) -> dict[str, nn.Module]:
        """The hooked modules by name."""
        return dict(self._modules)

    @property
    def last(self) -> Record | CellRecord:
        """The most recent record of any hooked module.

        Under threads: the latest call of the module whose call was recorded last,
        as it stands when read (a call finishing meanwhile may already be newer).
        """
        hook = self._last[0]
        record = None if hook is None else hook.latest()
        if record is None:
            raise LookupError("no hooked module has been called yet; run the model first")
        return record

    @property
    def history(self) -> int:
        """How many calls are kept per module (`attach_hooks(..., history=)`)."""
        return self._history

    def calls(self, key: str | nn.Module | None = None) -> int:
        """How many calls of one module were seen since the hooks were attached;
        without a key, of all hooked modules together."""
        if key is None:
            return sum(hook.calls for hook in self._hooks.values())
        return self._hooks[self._name_of(key)].calls

    def clear(self) -> None:
        """Forget every record; the hooks stay."""
        with registry.LOCK:
            for hook in self._hooks.values():
                hook.clear()
            self._last[0] = None

    def __contains__(self, key: object) -> bool:
        if isinstance(key, nn.Module):
            return id(key) in self._names_by_id
        return key in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    # -- lifecycle -------------------------------------------------------------------
    def remove(self) -> None:
        """Remove every hook this recorder added. Safe to call twice; records stay."""
        for handle in self._handles:
            handle.remove()
        for name, module in self._modules.items():
            entrance.unhook_directly(module, self._hooks[name])  # a cell's: none to undo
        labels.forget(self._hooks.values())
        if self._follow is not None:
            self._follow.remove()
        self._removed = True

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return str(provider("recorder text")(self))

    def _repr_html_(self) -> str:
        return str(provider("recorder html")(self))
