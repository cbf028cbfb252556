"""summary(): torchinfo's table plus the named dims of every recurrent call.

torchinfo shows only `out` of a recurrent layer (and only `.data` of a packed one).
We run its `summary(verbose=0)` while our own hooks record every call (and other
recorders' hooks are set aside), put every hook, mode and cache entry back as it
was, and `_display.summary_table.render` adds the records to torchinfo's table.
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, overload

import torchinfo
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torchinfo.model_statistics import ModelStatistics

from .._base.hook_dicts import HOOK_DICTS, is_ours
from .._names.cells import CELL_TYPES
from .._names.layout import RECURRENT_TYPES
from .._recording.cell_record import CellRecord
from .._recording.record import Record
from .._recording.recorder import Recorder, attach_hooks
from .summary_table import render

__all__ = ["Summary", "summary"]


def summary(
    model: nn.Module,
    input_data: Any = None,
    input_size: Any = None,
    **torchinfo_kwargs: Any,
) -> Summary:
    """torchinfo's summary with the named dims of `out`, `h_n` and `c_n` of every recurrent call.

    Runs `torchinfo.summary` once while every `nn.LSTM`/`nn.GRU`/`nn.RNN` of
    `model` is hooked, and adds a "Named dims" column: the annotation of `out`
    on the layer's row, and rows for `h_n` and `c_n` (which torchinfo never
    shows) under it; one row per call when a layer runs more than once. Right
    when the model packs its input inside `forward` (the padded annotation, and
    the lengths) and for unbatched input. Both our hooks and torchinfo's are
    removed afterwards, and every module's train/eval mode is restored.

    Recorders already attached to `model` record nothing of this pass: their
    records, call counts and `last` stay as they were. Their hooks are taken off
    for the pass and put back in place afterwards (also when it fails), so calls
    of `model` made from other threads meanwhile are not recorded by them either.

    Args:
        model: any module.
        input_data: the forward pass's arguments, as for `torchinfo.summary`:
            a tensor, a list/tuple of positional arguments, or a dict of keyword
            arguments.
        input_size: or the input shapes, e.g. `(1, 6, 3)` or `[(1, 6, 3), (1,)]`.
        **torchinfo_kwargs: passed to `torchinfo.summary` (`depth`, `col_names`,
            `row_settings`, `mode`, `dtypes`, `device`, ...). `verbose=1` or `2`
            prints the table (2 also lists each layer's weights); nothing is
            printed by default.

    Returns:
        A [`Summary`][bilstm_hooks.Summary]: `str()` is the table, `summary["lstm"]`
        the latest [`Record`][bilstm_hooks.Record] of a layer, `summary.records()`
        every recorded call; torchinfo's own attributes (`total_params`, ...)
        are read through.

    Raises:
        TypeError: `model` is not a module, or `input_data` holds a
            PackedSequence (torchinfo cannot take one: pack inside `forward`).
        ValueError: `cache_forward_pass=True` (a cached pass records nothing).
        RuntimeError: the forward pass failed; the message and `__cause__` say why.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        >>> result = bh.summary(lstm, input_size=(1, 6, 3))
        >>> result[lstm].h_n
        AnnotatedTensor[(layer=2 direction=2), batch=1, hidden=4]
        >>> print(str(result).splitlines()[3])  # doctest: +NORMALIZE_WHITESPACE
        LSTM    [1, 6, 8]    736    out  batch=1 token=6 (direction=2 hidden=4)
    """
    _check_arguments(model, input_data, torchinfo_kwargs)
    verbose = torchinfo_kwargs.pop("verbose", None) or 0
    stats, recorder, order = _recorded_pass(model, input_data, input_size, torchinfo_kwargs)
    text, records = render(stats, recorder, model, verbose)
    if recorder is not None:  # in call order: the table's order may differ (depth, recursion)
        _sort_in_call_order(records, recorder, order)
    result = Summary(stats, records, text)
    if verbose:
        print(result)
    return result


class Summary:
    """What `bh.summary` returns: the table and the records behind it.

    `str()` is the table. `summary["encoder"]` (a name or the module) is the
    latest [`Record`][bilstm_hooks.Record] of a recurrent layer; `records()`
    lists every recorded call, in call order. torchinfo's `ModelStatistics`
    is `.stats`, and its attributes (`total_params`, ...) are read through.
    """

    def __init__(
        self, stats: ModelStatistics, records: list[Record | CellRecord], text: str
    ) -> None:
        self.stats = stats
        self._records = records
        self._text = text

    @property
    def names(self) -> tuple[str, ...]:
        """Qualified names of the recurrent modules that ran, in call order."""
        return tuple(dict.fromkeys(record.name for record in self._records))

    def records(self, key: str | nn.Module | None = None) -> list[Record | CellRecord]:
        """Every recorded call, in call order; of one module when `key` is given (a
        cell's are `CellRecord`s, one per step)."""
        if key is None:
            return list(self._records)
        if isinstance(key, nn.Module):
            return [record for record in self._records if record.module is key]
        return [record for record in self._records if record.name == key]

    @overload
    def __getitem__(self, key: nn.LSTMCell | nn.GRUCell | nn.RNNCell) -> CellRecord: ...  # type: ignore[overload-overlap]
    @overload
    def __getitem__(self, key: str | nn.Module) -> Record: ...
    def __getitem__(self, key: str | nn.Module) -> Record | CellRecord:
        """The latest record of one recurrent module (its name or the module); a cell's
        is a `CellRecord`, as `Recorder[...]` gives it."""
        found = self.records(key)
        if not found:
            what = repr(key) if isinstance(key, str) else type(key).__name__
            raise KeyError(
                f"no recorded call of {what}; recorded: {', '.join(map(repr, self.names))}"
            )
        return found[-1]

    def __iter__(self) -> Iterator[Record | CellRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._text

    def __getattr__(self, name: str) -> Any:
        stats = self.__dict__.get("stats")
        if stats is None or name.startswith("_"):
            raise AttributeError(f"'Summary' object has no attribute {name!r}")
        return getattr(stats, name)


# -- running ----------------------------------------------------------------------------
def _check_arguments(model: object, input_data: Any, torchinfo_kwargs: dict[str, Any]) -> None:
    """Refuse what no pass can summarise: not a module, packed input, or a cached pass."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"summary expected an nn.Module, got {type(model).__qualname__}")
    if _holds_packed(input_data):
        raise TypeError(
            "torchinfo cannot take a PackedSequence as input_data; pass the padded batch "
            "and the lengths, and pack inside the model's forward"
        )
    if torchinfo_kwargs.get("cache_forward_pass"):
        raise ValueError(
            "bh.summary needs a fresh forward pass to record the states; "
            "drop cache_forward_pass=True"
        )


def _recorded_pass(
    model: nn.Module, input_data: Any, input_size: Any, torchinfo_kwargs: dict[str, Any]
) -> tuple[ModelStatistics, Recorder | None, list[str]]:
    """torchinfo's pass, recorded: its stats, our recorder, the call order; all else put back."""
    has_recurrent = any(isinstance(m, RECURRENT_TYPES + CELL_TYPES) for m in model.modules())
    modes = {m: m.training for m in model.modules()}
    cache: Any = getattr(torchinfo.torchinfo, "_cached_forward_pass", None)
    cached_before = dict(cache) if isinstance(cache, dict) else {}
    recorder: Recorder | None = None
    order: list[str] = []  # the recurrent calls' module names, in call order
    try:
        with _hooks_kept(model):
            if has_recurrent:
                recorder = attach_hooks(model, history=sys.maxsize)
                for name, module in recorder.modules.items():
                    module.register_forward_hook(lambda *_, name=name: order.append(name))
            stats = torchinfo.summary(
                model, input_data=input_data, input_size=input_size, verbose=0, **torchinfo_kwargs
            )
    except RuntimeError as exc:  # torchinfo's "See above stack traces" shows none at verbose=0
        cause = exc.__cause__
        if cause is None:
            raise
        raise RuntimeError(
            f"{type(model).__name__}'s forward pass failed under torchinfo: "
            f"{type(cause).__name__}: {cause}"
        ) from cause
    finally:
        if recorder is not None:
            recorder.remove()
        for module, training in modes.items():
            module.training = training
        if isinstance(cache, dict):  # torchinfo keeps every pass (and the model) by class name
            cache.clear()
            cache.update(cached_before)
    return stats, recorder, order


def _sort_in_call_order(
    records: list[Record | CellRecord], recorder: Recorder, order: list[str]
) -> None:
    """Sort the table's records into the order of the calls, as `order` names them."""
    seen: dict[str, int] = {}
    position = {}
    for at, name in enumerate(order):
        kept = recorder.records(name)
        position[id(kept[seen.setdefault(name, 0)])] = at
        seen[name] += 1
    records.sort(key=lambda record: position.get(id(record), len(order)))


def _holds_packed(data: Any) -> bool:
    """Whether `input_data` holds a PackedSequence anywhere (torchinfo cannot take one)."""
    if isinstance(data, PackedSequence):
        return True
    if isinstance(data, Mapping):
        return any(isinstance(v, PackedSequence) for v in data.values())
    if isinstance(data, list | tuple):
        return any(isinstance(v, PackedSequence) for v in data)
    return False


@contextlib.contextmanager
def _hooks_kept(model: nn.Module) -> Iterator[None]:
    """Other recorders' hooks off during the block; afterwards every hook dict as it was.

    Another recorder's hook (a bound `Hook.record`, whose id keys its entry in
    each forward-hook dict) would record our pass: it is taken off for the block.
    Afterwards what was added since goes (our hooks, and torchinfo's if a failure
    left any), what was taken off comes back in its place (same id, same order),
    and what was removed meanwhile stays removed. No step leaves a kept hook out,
    even for a moment: another thread's call of the model still meets it.
    """
    dicts = [
        hooks
        for module in model.modules()
        for name in HOOK_DICTS
        if isinstance(hooks := getattr(module, name, None), dict)
    ]
    saved = [dict(hooks) for hooks in dicts]
    taken = {key for hooks in dicts for key, hook in hooks.items() if is_ours(hook)}
    for hooks in dicts:
        for key in taken.intersection(hooks):
            hooks.pop(key, None)  # pop: another thread may remove a hook meanwhile
    try:
        yield
    finally:
        for hooks, before in zip(dicts, saved, strict=True):
            for key in set(hooks).difference(before):
                hooks.pop(key, None)
            for key, hook in before.items():  # in the order before: each one to the end
                if key in taken:
                    hooks[key] = hook
                elif key in hooks:
                    _to_end(hooks, key)


def _to_end(hooks: dict[int, Any], key: int) -> None:
    """Move the hook `key` to the end of `hooks`, in one step where torch's dict allows."""
    if isinstance(hooks, OrderedDict):  # as torch makes them: in one step
        hooks.move_to_end(key)
    else:
        hooks[key] = hooks.pop(key)
