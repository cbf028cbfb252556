"""Following names through torch ops: a `TorchFunctionMode` that applies `_rules.RULES`.

`attach_hooks(model, follow=True)` enters it in a forward pre-hook of `model` and
leaves it in an always-called forward hook, so that an exception in the forward
never leaves it on; `bh.follow()` does the same for a block of code. An op with
no rule passes through untouched: its result has no names. A rule that fails is
ignored (the op's result is returned as it is), except for a `LayoutWarning`
turned into an error by the warnings filter, which is the user's to see.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from . import _registry
from ._annotated import AnnotatedTensor
from ._errors import LayoutWarning
from ._inplace import MAY_CHANGE_IN_PLACE, after_inplace, before
from ._rules import RULES

__all__ = ["FollowHooks", "follow"]


class _Follow(TorchFunctionMode):
    """Runs each op, then the rule of its function, if any."""

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        rule = RULES.get(func)
        if rule is not None and not _any_tagged(args):
            rule = None  # no argument has names: nothing to follow
        names = None
        if rule is not None and func in MAY_CHANGE_IN_PLACE:
            try:
                names = before(func, args, kwargs)
            except Exception:  # a rule must never break the user's code
                names = None
        result = func(*args, **kwargs)
        if rule is not None:
            try:
                rule(func, args, kwargs, result)
                if names is not None:
                    after_inplace(names, result)
            except LayoutWarning:
                raise  # -W error: the user asked for it
            except Exception:  # a rule must never break the user's code
                pass
        return result


_TAGS = _registry.TAGS
_Tensor = torch.Tensor


def _any_tagged(args: tuple[Any, ...]) -> bool:
    """Whether a tensor argument (or one in a list: cat's) may have names: a cheap
    look at the registry's keys before any rule runs. A view of an inference tensor
    keeps no `_base`: it may have names, found by storage."""
    for arg in args:
        if isinstance(arg, _Tensor):
            if id(arg) in _TAGS or (arg._base is not None and id(arg._base) in _TAGS):
                return True
            if arg.is_inference():
                return True
        elif isinstance(arg, list | tuple):
            if _any_tagged(tuple(arg)):
                return True
        elif isinstance(arg, AnnotatedTensor):
            return True
    return False


@contextlib.contextmanager
def follow() -> Iterator[None]:
    """Carry names through the torch ops of the block, and warn about layout bugs.

    The results of `pad_packed_sequence`, `cat`, elementwise ops, reductions over a
    named axis, `index_select` along `batch` and a Linear head keep (or gain) the
    names of their annotated inputs; `bh.LayoutWarning` flags the classic bugs.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> rec = bh.attach_hooks(lstm)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> with bh.follow():
        ...     final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        >>> print(bh.annotation_of(final).pattern, bh.annotation_of(final).at)
        batch (direction hidden) {'layer': 1}
    """
    _registry.key_bases()  # outputs of calls made before the block: find their views
    with _Follow():
        yield


class FollowHooks:
    """The pre-hook and always-called hook that turn following on for `model`'s forward."""

    def __init__(self, model: nn.Module) -> None:
        self._local = threading.local()  # per thread: the modes entered, innermost last
        self.handles: list[RemovableHandle] = [
            model.register_forward_pre_hook(self._enter),
            model.register_forward_hook(self._leave, always_call=True),
        ]

    def _modes(self) -> list[_Follow]:
        modes: list[_Follow] | None = getattr(self._local, "modes", None)
        if modes is None:
            modes = self._local.modes = []
        return modes

    def _enter(self, module: nn.Module, args: Any) -> None:
        _registry.key_bases()  # outputs of unfollowed calls, passed in: find their views
        mode = _Follow()
        mode.__enter__()  # type: ignore[no-untyped-call]
        self._modes().append(mode)

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        modes = self._modes()
        if modes:
            modes.pop().__exit__(None, None, None)  # type: ignore[no-untyped-call]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
