"""summary(): torchinfo's table plus the named dims of every recurrent call.

torchinfo shows only `out` of a recurrent layer (and only `.data` of a packed one).
We run its `summary(verbose=0)` while our own hooks record every call, join the
records onto `stats.summary_list` by `LayerInfo.module` (one LayerInfo per call,
in call order), and swap in a `FormattingOptions` subclass that adds a
"Named dims" column plus `h_n`/`c_n` rows. What it cannot place in the table
(rows deeper than `depth`, hidden rows, or torchinfo internals that changed) is
appended as a plain section below it.
"""

from __future__ import annotations

import contextlib
import sys
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from typing import Any

import torchinfo
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torchinfo.enums import ColumnSettings, Units
from torchinfo.formatting import FormattingOptions
from torchinfo.layer_info import LayerInfo
from torchinfo.model_statistics import ModelStatistics

from ._display import record_text
from ._layout import RECURRENT_TYPES, Axes, Layout, Role
from ._record import Record
from ._recorder import Recorder, _Hook, attach_hooks

__all__ = ["Summary", "summary"]

_TITLE = "Named dims"
# a forward hook's id keys its entry in the last three (their values: True)
_FORWARD_HOOKS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called")
_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", *_FORWARD_HOOKS)


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
        A [`Summary`][bilstm_hooks._summary.Summary]: `str()` is the table, `summary["lstm"]`
        the latest [`Record`][bilstm_hooks.Record] of a layer, `summary.records()`
        every recorded call; torchinfo's own attributes (`total_params`, ...)
        are read through.

    Raises:
        TypeError: `model` is not a module, or `input_data` holds a
            PackedSequence (torchinfo cannot take one: pack inside `forward`).
        ValueError: `cache_forward_pass=True` (a cached pass records nothing).
        RuntimeError: the forward pass failed; the message and `__cause__` say why.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        >>> result = bh.summary(lstm, input_size=(1, 6, 3))
        >>> result[lstm].h_n
        AnnotatedTensor[(layer=2 direction=2), batch=1, hidden=4]
        >>> print(str(result).splitlines()[3])  # doctest: +NORMALIZE_WHITESPACE
        LSTM    [1, 6, 8]    736    out  batch=1 token=6 (direction=2 hidden=4)
    """
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
    verbose = torchinfo_kwargs.pop("verbose", None) or 0
    has_recurrent = any(isinstance(m, RECURRENT_TYPES) for m in model.modules())
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
    text, records = _render(stats, recorder, model, verbose)
    if recorder is not None:  # in call order: the table's order may differ (depth, recursion)
        seen: dict[str, int] = {}
        position = {}
        for at, name in enumerate(order):
            kept = recorder.records(name)
            position[id(kept[seen.setdefault(name, 0)])] = at
            seen[name] += 1
        records.sort(key=lambda record: position.get(id(record), len(order)))
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

    def __init__(self, stats: ModelStatistics, records: list[Record], text: str) -> None:
        self.stats = stats
        self._records = records
        self._text = text

    @property
    def names(self) -> tuple[str, ...]:
        """Qualified names of the recurrent modules that ran, in call order."""
        return tuple(dict.fromkeys(record.name for record in self._records))

    def records(self, key: str | nn.Module | None = None) -> list[Record]:
        """Every recorded call, in call order; of one module when `key` is given."""
        if key is None:
            return list(self._records)
        if isinstance(key, nn.Module):
            return [record for record in self._records if record.module is key]
        return [record for record in self._records if record.name == key]

    def __getitem__(self, key: str | nn.Module) -> Record:
        """The latest record of one recurrent module (its name or the module)."""
        found = self.records(key)
        if not found:
            what = repr(key) if isinstance(key, str) else type(key).__name__
            raise KeyError(
                f"no recorded call of {what}; recorded: {', '.join(map(repr, self.names))}"
            )
        return found[-1]

    def __iter__(self) -> Iterator[Record]:
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
def _holds_packed(data: Any) -> bool:
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

    Another recorder's hook (a bound `_Hook.record`, whose id keys its entry in
    each forward-hook dict) would record our pass: it is taken off for the block.
    Afterwards what was added since goes (our hooks, and torchinfo's if a failure
    left any), what was taken off comes back in its place (same id, same order),
    and what was removed meanwhile stays removed. No step leaves a kept hook out,
    even for a moment: another thread's call of the model still meets it.
    """
    dicts = [
        hooks
        for module in model.modules()
        for name in _HOOK_DICTS
        if isinstance(hooks := getattr(module, name, None), dict)
    ]
    saved = [dict(hooks) for hooks in dicts]
    taken = {
        key
        for hooks in dicts
        for key, hook in hooks.items()
        if type(getattr(hook, "__self__", None)) is _Hook
    }
    for hooks in dicts:
        for key in taken.intersection(hooks):
            del hooks[key]
    try:
        yield
    finally:
        for hooks, before in zip(dicts, saved, strict=True):
            for key in set(hooks).difference(before):
                del hooks[key]
            for key, hook in before.items():  # in the order before: each one to the end
                if key in taken:
                    hooks[key] = hook
                elif key in hooks:
                    _to_end(hooks, key)


def _to_end(hooks: dict[int, Any], key: int) -> None:
    if isinstance(hooks, OrderedDict):  # as torch makes them: in one step
        hooks.move_to_end(key)
    else:
        hooks[key] = hooks.pop(key)


# -- rendering --------------------------------------------------------------------------
class _Row:
    """One line of our column: the note on a layer's row, or a sub-row of its own."""

    __slots__ = ("label", "note", "shape")

    def __init__(self, label: str, note: str, shape: str = "") -> None:
        self.label = label
        self.note = note
        self.shape = shape


def _config_described(axes: Axes) -> str:
    """Sizes that come from the module alone: `batch token (direction=2 hidden=4)`."""
    size = axes.size_of
    parts = []
    for group in axes.groups:
        inner = " ".join(n if n in ("batch", "token") else f"{n}={size[n]}" for n in group)
        parts.append(inner if len(group) == 1 else f"({inner})")
    return " ".join(parts)


def _shape(shape: Any) -> str:
    return str(list(shape))


def _rows_of(record: Record | None, module: nn.Module) -> list[_Row]:
    """The note of the layer's own row, then its sub-rows."""
    if record is None:  # no forward pass: what the module's configuration fixes
        layout = Layout.of_module(module, batch=1, tokens=1)
        roles: tuple[Role, ...] = ("out", "h_n", "c_n") if layout.kind == "LSTM" else ("out", "h_n")
        return [_Row(role, f"{role:<4} {_config_described(layout.axes(role))}") for role in roles]
    layout = record.layout
    out = f"out  {layout.axes('out').described()}"
    rows = [_Row("out", out + (", padded" if layout.packed else ""))]
    states: tuple[Role, ...] = ("h_n", "c_n") if layout.kind == "LSTM" else ("h_n",)
    for role in states:
        tensor = record.h_n if role == "h_n" else record.c_n
        shape = _shape(tensor.shape) if tensor is not None else ""
        rows.append(_Row(role, f"{role:<4} {layout.axes(role).described()}", shape))
    if record.lengths is not None:
        lengths = ", ".join(map(str, record.lengths.tolist()))
        rows.append(_Row("lengths", f"packed, lengths [{lengths}]"))
    return rows


def _with_note(line: str, note: str, column: int) -> str:
    return (line.ljust(column) if len(line) < column else line + " ") + note


class _NamedDimsFormatting(FormattingOptions):
    """torchinfo's formatting plus a "Named dims" column and h_n/c_n rows.

    Takes over the settings of the formatting torchinfo made, and remembers which
    LayerInfos it rendered (the rest go into the appended section).
    """

    def __init__(
        self,
        base: FormattingOptions,
        notes: dict[int, list[_Row]],
        verbose: int,
        summary_list: list[LayerInfo],
    ) -> None:
        self.__dict__.update(base.__dict__)
        self.verbose = verbose
        self.notes = notes
        self.rendered: set[int] = set()
        widths = [len(row.note) for rows in notes.values() for row in rows]
        self.notes_width = max([len(_TITLE), *widths])
        self.layer_name_width = self._name_width(summary_list)

    def _name_width(self, summary_list: list[LayerInfo]) -> int:
        """torchinfo's first column is 40 wide at least; ours is as wide as its names need,
        so that the table with its extra column still fits a terminal."""
        needed = [len(self.header_row_label())]
        for info in summary_list:
            if info.depth > self.max_depth:
                continue
            name = self.get_start_str(info.depth) + info.get_layer_name(
                self.show_var_name, self.show_depth
            )
            needed.append(len(name))
            for row in self.notes.get(id(info), [])[1:]:
                needed.append(len(self.get_start_str(info.depth + 1) + row.label))
        return max(needed) + 2

    def header_row_label(self) -> str:
        label = " (var_name)" if self.show_var_name else ""
        return f"Layer (type{label}{':depth-idx' if self.show_depth else ''})"

    def _column(self) -> int:
        return self.layer_name_width + 1 + len(tuple(self.col_names)) * (self.col_width + 1)

    def get_total_width(self) -> int:
        return self._column() + self.notes_width

    def header_row(self) -> str:
        line = super().header_row().rstrip("\n")
        return _with_note(line, _TITLE, self._column()) + "\n"

    def layer_info_to_row(
        self, layer_info: LayerInfo, reached_max_depth: bool, total_params: int
    ) -> str:
        text = super().layer_info_to_row(layer_info, reached_max_depth, total_params)
        rows = self.notes.get(id(layer_info))
        if not rows:
            return text
        self.rendered.add(id(layer_info))
        first, _, rest = text.partition("\n")
        column = self._column()
        lines = [_with_note(first, rows[0].note, column)]
        prefix = self.get_start_str(layer_info.depth + 1)
        for row in rows[1:]:
            values = {ColumnSettings.OUTPUT_SIZE: row.shape or "--"}
            sub = self.format_row(f"{prefix}{row.label}", values).rstrip("\n")
            lines.append(_with_note(sub, row.note, column))
        return "\n".join(lines) + "\n" + rest


def _join(
    stats: ModelStatistics, recorder: Recorder | None
) -> dict[int, tuple[LayerInfo, Record | None]]:
    """LayerInfo id -> (LayerInfo, its call's Record): torchinfo adds one LayerInfo per call."""
    pending: dict[int, deque[Record]] = {}
    if recorder is not None:
        for name, module in recorder.modules.items():
            pending[id(module)] = deque(recorder.records(name))
    joined: dict[int, tuple[LayerInfo, Record | None]] = {}
    for info in stats.summary_list:
        module = info.module
        if not isinstance(module, RECURRENT_TYPES) or id(info) in joined:
            continue
        queue = pending.get(id(module))
        if queue:
            joined[id(info)] = (info, queue.popleft())
        elif not info.executed:
            joined[id(info)] = (info, None)
    return joined


def _render(
    stats: ModelStatistics, recorder: Recorder | None, model: nn.Module, verbose: int
) -> tuple[str, list[Record]]:
    """The table, and every record in call order (the table's order, then the rest)."""
    placed: list[Record] = []
    original = stats.formatting
    try:
        joined = _join(stats, recorder)
        notes = {key: _rows_of(record, info.module) for key, (info, record) in joined.items()}
        formatting = _NamedDimsFormatting(original, notes, verbose, stats.summary_list)
        stats.formatting = formatting
        text = repr(stats)
        placed = [
            record
            for key, (_, record) in joined.items()
            if key in formatting.rendered and record is not None
        ]
    except Exception:  # torchinfo's internals changed: its own table, our section below
        stats.formatting = original
        text = repr(stats)
    finally:
        stats.formatting = original
    for unit in Units:  # torchinfo 1.8.0 prints "(Units.MEGABYTES)" on Python >= 3.11
        text = text.replace(f"({unit.__class__.__name__}.{unit.name})", f"({unit.value})")
    if recorder is None:
        looked_for = ", ".join(f"nn.{t.__name__}" for t in RECURRENT_TYPES)
        return f"{text}\nNo recurrent layer in {type(model).__name__} ({looked_for}).", []
    shown = {id(record) for record in placed}
    section = [f"{_TITLE} of recurrent calls not shown in the table above:"]
    left = []
    for name in recorder.names:
        kept = recorder.records(name)
        for call, record in enumerate(kept, 1):
            if id(record) in shown:
                continue
            left.append(record)
            first, _, rest = record_text(record).partition("\n")
            section += [f"{first}, call {call}" if len(kept) > 1 else first, rest]
    if left:
        text += "\n" + "\n".join(section)
    return text, placed + left
