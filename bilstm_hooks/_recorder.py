"""attach_hooks() and the Recorder it returns."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
import weakref
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence
from torch.utils.hooks import RemovableHandle

from . import _registry
from ._annotated import AnnotatedTensor
from ._layout import RECURRENT_TYPES, Layout, label_of, quoted_label_of
from ._record import Record
from ._registry import Tag

__all__ = ["Recorder", "annotation_of", "attach_hooks"]

_TAGS = _registry.TAGS
_ref = weakref.ref
_LAYOUTS_KEPT = 32  # distinct call shapes whose layout is cached, per module
# the layer's settings a layout is derived from, besides the call's shape
_SETTINGS = ("batch_first", "hidden_size", "num_layers", "bidirectional", "input_size", "proj_size")


def attach_hooks(model: nn.Module, *, history: int = 1, detach: bool = True) -> Recorder:
    """Hook every `nn.LSTM`, `nn.GRU` and `nn.RNN` in `model` and record their calls.

    Hooks never change outputs or gradients. Use the result as a context manager
    to remove them again; the records stay readable afterwards.

    Args:
        model: any module; the recurrent layers may be nested anywhere in it,
            be the model itself, or sit inside `DataParallel`/`DistributedDataParallel`.
        history: how many calls to keep per module (oldest dropped first).
        detach: keep detached tensors, so that records never hold the autograd
            graph alive. `False` keeps the tensors the layer returned.

    Returns:
        A [`Recorder`][bilstm_hooks.Recorder]; `rec["encoder"]` is the latest
        [`Record`][bilstm_hooks.Record] of the module named `encoder`.

    Raises:
        TypeError: `model` is not an `nn.Module`, or an option has the wrong type.
        ValueError: `model` holds no recurrent layer, or `history` < 1.

    Example:
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
    if not isinstance(detach, bool):
        raise TypeError(f"expected detach as a bool, got {detach!r}")
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, RECURRENT_TYPES)]
    if not found:
        looked_for = ", ".join(f"nn.{t.__name__}" for t in RECURRENT_TYPES)
        raise ValueError(
            f"{type(model).__qualname__} has no recurrent layer: looked for {looked_for} "
            "among its named_modules()"
        )
    return Recorder(found, history=history, detach=detach)


def _who(name: str, module: nn.Module) -> str:
    """`'encoder' (LSTM)`, or `<LSTM>` for a hooked root module: for messages."""
    label = quoted_label_of(name, module)
    return f"{label} ({type(module).__name__})" if name else label


_INTERNAL = (os.path.dirname(__file__), os.path.dirname(nn.Module.__call__.__code__.co_filename))


def _callers_level() -> int:
    """The `stacklevel` of the first frame outside bilstm_hooks and torch.nn's modules:
    the line of user code that called the model."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


# What a hook keeps per call: the arguments of Record() after name and module.
_Entry = tuple[Layout, Any, Any, torch.Tensor, torch.Tensor | None]


class _Hook:
    """The forward hook of one module: cheap, never raises, never changes output.

    It holds the module's kept calls and its cache of layouts: the hot path,
    which runs on every forward call, reads no state of the recorder. What is
    registered is its bound method `record`: torch calls a bound method faster
    than an object's `__call__`. A Record is built from a kept call when read.

    In a copied or unpickled model the hook is inert (`recorder` None): it
    records nothing, and takes itself off the copy at the copy's first call.
    """

    __slots__ = ("calls", "detach", "kept", "layouts", "name", "recorder")

    def __init__(self, recorder: Recorder | None, name: str, history: int, detach: bool) -> None:
        self.recorder = recorder
        self.name = name
        self.detach = detach
        self.kept: deque[Record | _Entry] = deque(maxlen=history)
        self.calls = 0
        # the layout and tags of each call shape, keyed by all they are derived from
        self.layouts: dict[tuple[Any, ...], tuple[Layout, Tag, Tag, Tag]] = {}

    def record(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        # The hot path, one frame: calls cost here. The layout and tags are cached by
        # the call's shape and the layer's settings, and the registry written in place.
        recorder = self.recorder
        if recorder is None:
            self._take_off(module)
            return
        try:
            out, state = output
            input = args[0] if args else kwargs["input"]
            if type(state) is tuple:
                h_n, c_n = state
            else:
                h_n, c_n = state, None
            if type(out) is PackedSequence:
                shape = (None, input.batch_sizes.shape[0], h_n.shape[1])  # tokens, batch
                out_data, input_data = out.data, input.data
            else:
                shape, out_data, input_data = input.shape, out, input
            config = module.__dict__  # the layer's settings: faster than module.<name>
            try:
                key = (
                    shape,
                    config["batch_first"],
                    config["hidden_size"],
                    config["num_layers"],
                    config["bidirectional"],
                    config["input_size"],
                    config["proj_size"],
                )
            except KeyError:  # a subclass computes some of them
                key = (shape, *(getattr(module, name) for name in _SETTINGS))
            cached = self.layouts.get(key)
            if cached is None:
                cached = self._new_layout(key, module, input, h_n)
            layout, out_tag, h_n_tag, c_n_tag = cached
            table = _TAGS
            table[id(out_data)] = (_ref(out_data), out_tag)
            table[id(h_n)] = (_ref(h_n), h_n_tag)
            if c_n is not None:
                table[id(c_n)] = (_ref(c_n), c_n_tag)
            if len(table) >= _registry.sweep_at:
                _registry.sweep()
            if self.detach:  # only what holds a graph: under no_grad nothing needs it
                if input_data.requires_grad:
                    input = input.detach() if input_data is input else _detached(input)
                if out_data.requires_grad or h_n.requires_grad:
                    out = out.detach() if out_data is out else _detached(out)
                    h_n = h_n.detach()
                    if c_n is not None:
                        c_n = c_n.detach()
            self.kept.append((layout, input, out, h_n, c_n))
            self.calls += 1
            recorder._last = self
        except Exception as exc:  # a hook must never break the forward pass
            recorder._warn_once(self.name, module, exc)

    def _take_off(self, module: nn.Module) -> None:
        with contextlib.suppress(Exception):  # torch iterates over a snapshot of the hooks
            for hook_id, hook in list(module._forward_hooks.items()):
                if getattr(hook, "__self__", None) is self:
                    del module._forward_hooks[hook_id]
                    module._forward_hooks_with_kwargs.pop(hook_id, None)
                    module._forward_hooks_always_called.pop(hook_id, None)

    def _new_layout(
        self, key: tuple[Any, ...], module: nn.Module, input: Any, h_n: torch.Tensor
    ) -> tuple[Layout, Tag, Tag, Tag]:
        if len(self.layouts) >= _LAYOUTS_KEPT:
            self.layouts.clear()  # varying lengths: a small cache, never a growing one
        layout = Layout.of(module, input, h_n)
        origin = label_of(self.name, module)
        cached = self.layouts[key] = (
            layout,
            Tag(layout, "out", f"{origin}.out", packed=layout.packed),
            Tag(layout, "h_n", f"{origin}.h_n"),
            Tag(layout, "c_n", f"{origin}.c_n"),
        )
        return cached

    def kept_record(self, at: int) -> Record:
        """The kept call at index `at`, as a Record (built once, then kept)."""
        entry = self.kept[at]
        if type(entry) is tuple:
            assert self.recorder is not None  # an inert hook keeps nothing
            entry = self.kept[at] = Record(self.name, self.recorder._modules[self.name], *entry)
        return entry  # type: ignore[return-value]

    def kept_records(self) -> list[Record]:
        return [self.kept_record(at) for at in range(len(self.kept))]

    def __reduce__(self) -> tuple[type[_Hook], tuple[None, str, int, bool]]:
        # deepcopy/pickle/torch.save of a hooked model: the copy is not hooked
        return (_Hook, (None, self.name, 1, self.detach))


def _detached(t: PackedSequence) -> PackedSequence:
    return PackedSequence(t.data.detach(), t.batch_sizes, t.sorted_indices, t.unsorted_indices)


class Recorder:
    """The hooks `attach_hooks` added and the records they keep.

    Index it with a module's qualified name or the module itself.
    """

    def __init__(self, modules: list[tuple[str, nn.Module]], *, history: int, detach: bool) -> None:
        self._modules = dict(modules)
        self._names_by_id = {id(m): name for name, m in modules}
        self._hooks = {name: _Hook(self, name, history, detach) for name in self._modules}
        self._last: _Hook | None = None  # the hook of the latest call
        self._history = history
        self._warned = False
        self._handles: list[RemovableHandle] = [
            module.register_forward_hook(self._hooks[name].record, with_kwargs=True)
            for name, module in modules
        ]

    def _warn_once(self, name: str, module: nn.Module, exc: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        message = (
            f"bilstm_hooks could not record a call of {_who(name, module)}: "
            f"{type(exc).__name__}: {exc}. The forward pass "
            "is unaffected; later failures of this recorder are not reported."
        )
        # under -W error a warning raises: that must not break the forward pass either
        with contextlib.suppress(Exception):
            warnings.warn(message, RuntimeWarning, stacklevel=_callers_level())

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
        return ", ".join(repr(n) if n else "'' (the model itself)" for n in self._modules)

    def __getitem__(self, key: str | nn.Module) -> Record:
        """The latest record of one hooked module."""
        name = self._name_of(key)
        hook = self._hooks[name]
        if not hook.kept:
            module = self._modules[name]
            when = (
                "its records were cleared by clear()"
                if hook.calls
                else "it has not been called since it was hooked"
            )
            raise LookupError(f"{_who(name, module)} is hooked, but {when}; run the model first")
        return hook.kept_record(-1)

    def records(self, key: str | nn.Module) -> list[Record]:
        """The kept records of one module, oldest first (at most `history`)."""
        return self._hooks[self._name_of(key)].kept_records()

    @property
    def names(self) -> tuple[str, ...]:
        """Qualified names of the hooked modules, in `named_modules()` order."""
        return tuple(self._modules)

    @property
    def modules(self) -> dict[str, nn.Module]:
        """The hooked modules by name."""
        return dict(self._modules)

    @property
    def last(self) -> Record:
        """The most recent record of any hooked module."""
        if self._last is None or not self._last.kept:
            raise LookupError("no hooked module has been called yet; run the model first")
        return self._last.kept_record(-1)

    @property
    def history(self) -> int:
        """How many calls are kept per module (`attach_hooks(..., history=)`)."""
        return self._history

    def calls(self, key: str | nn.Module) -> int:
        """How many calls of one module were seen since the hooks were attached."""
        return self._hooks[self._name_of(key)].calls

    def clear(self) -> None:
        """Forget every record; the hooks stay."""
        for hook in self._hooks.values():
            hook.kept.clear()
        self._last = None

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

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        from ._display import recorder_text

        return recorder_text(self)

    def _repr_html_(self) -> str:
        from ._notebook import recorder_html

        return recorder_html(self)


def annotation_of(obj: object) -> AnnotatedTensor | None:
    """The annotation of a tensor (or PackedSequence) a hooked module returned.

    Looked up by identity in a weak registry: no tensor is kept alive by it.
    A PackedSequence is annotated in its padded form. Anything else: None.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> rec = bh.attach_hooks(lstm)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> bh.annotation_of(h_n).pattern
        '(layer direction) batch hidden'
        >>> bh.annotation_of(torch.zeros(3)) is None
        True
    """
    if isinstance(obj, PackedSequence):
        found = _registry.lookup(obj.data)
        if found is None or not found.packed:
            return None
        padded, _ = pad_packed_sequence(obj, batch_first=found.layout.batch_first)
        tensor: torch.Tensor = padded
    elif isinstance(obj, torch.Tensor):
        found = _registry.lookup(obj)
        if found is None or found.packed:
            # the .data of a packed output has no named layout: the PackedSequence has
            return None
        tensor = obj
    else:
        return None
    axes = found.layout.axes(found.role)
    if not axes.matches(tensor.shape):  # resized in place since: the annotation is stale
        return None
    return AnnotatedTensor(tensor, axes, found.origin)
