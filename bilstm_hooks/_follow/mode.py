"""Following names through torch ops: a `TorchFunctionMode` that applies `_follow.rules.RULES`.

`attach_hooks(model, follow=True)` enters it in a forward pre-hook of `model` and leaves
it in an always-called forward hook, and enters it at a call of one of the model's
recurrent layers made outside its forward (`_follow.entering`); `bh.follow()` does the
same for a block of code. One mode per thread at most: a followed model called inside a
block (or inside another followed model) follows in the mode already on, so that a bug
warns once. An op with no rule passes through untouched: its result has no names. A rule
that fails leaves the op's result as it is, unnamed: the failure is counted
(`RULE_FAILURES`, with its latest cause) and warned about once per process, as the
hook's are. A `LayoutWarning` turned into an error by the warnings filter is the user's
to see, and raises.

What ends a forward: torch runs always-called hooks for an `Exception` only. A
`KeyboardInterrupt`, `SystemExit` or `GeneratorExit` raised in the forward skips
them, so each mode a pre-hook entered knows the frame of the call that entered it
(`owner`): the forward pre-hook of the next call, the next `bh.follow()` and the
next hooked recurrent call take off a mode whose call has ended, and until then such
a mode names nothing and warns about nothing (it checks, before any rule, that its
call is still running).

The library's own reads of tensors (strides, storage, `tolist`) run with torch
function handling off: a user's own `TorchFunctionMode` sees the model's ops only.
Under `torch.compile` nothing is followed: the mode passes every op through, and a
compiled forward enters none, so that Dynamo never traces into the library.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Iterator
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .._base.callers import callers_level, hide_frames
from .._base.errors import LayoutWarning
from .._core import registry
from .._core.annotated import AnnotatedTensor
from . import held, reach
from .explain import explain
from .inplace import MAY_CHANGE_IN_PLACE, after_inplace, before
from .rules import RULES

__all__ = [
    "HIDDEN", "RULE_FAILURES", "RuleFailures", "current", "drop_ended", "follow", "start", "stop",
    "take_off", "thread_mode",
]  # fmt: skip

_no_torch_function = torch._C.DisableTorchFunction
_compiling = torch.compiler.is_compiling
_CALL_IMPL = nn.Module._call_impl.__code__
_local = threading.local()  # `.mode`: the thread's _Follow on the mode stack, or None
_HELD = held.STORE  # its `.values`: empty unless a warning waits for a use
_REACH = reach.STORE  # its `.values`: empty unless a bidirectional layer ran (`reach`)


class RuleFailures:
    """The follow rules that raised: how many, the latest cause, whether it was warned."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.cause = ""
        self.warned = False

    def failed(self, func: Any, exc: Exception) -> None:
        """Count a rule's failure on `func`; warn the first time (never raising)."""
        name = torch.overrides.resolve_name(func) or getattr(func, "__name__", repr(func))
        with self.lock:
            self.count += 1
            self.cause = f"{name}: {type(exc).__name__}: {exc}"
            first, self.warned = not self.warned, True
        if first:  # under -W error a warning raises: that must not break the user's code
            with contextlib.suppress(Exception):
                warnings.warn(
                    f"bilstm_hooks could not follow names through {self.cause}. The op's "
                    "result is unaffected and has no names. Later failures of the follow "
                    "rules are not warned about.",
                    RuntimeWarning,
                    stacklevel=callers_level(),
                )


RULE_FAILURES = RuleFailures()


class _Follow(TorchFunctionMode):
    """Runs each op, then the rule of its function, if any.

    `owner`: the frame of the module call whose pre-hook entered the mode (None for
    a block); `ended`: that call ended without leaving the mode (an interrupt).
    """

    def __init__(self, owner: FrameType | None = None) -> None:
        super().__init__()
        self.owner = owner
        self.ended = False

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        rule = RULES.get(func)
        if (rule is None and not _HELD.values and not _REACH.values) or self.ended or _compiling():
            try:  # free until an op raises (Python 3.11's exceptions cost nothing before)
                return func(*args, **kwargs)
            except Exception as exc:
                explain(exc, func, args, kwargs)  # its operands in names (`explain`)
                raise
        names = None
        with _no_torch_function():  # our reads are not the user's ops
            if rule is None or not _any_tagged(args) or not self.running():
                rule = None  # no argument has names: nothing to follow
            elif func in MAY_CHANGE_IN_PLACE:
                try:
                    names = before(func, args, kwargs)
                except Exception as exc:  # a rule must never break the user's code
                    RULE_FAILURES.failed(func, exc)
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            explain(exc, func, args, kwargs)
            raise
        if rule is not None:
            with _no_torch_function():
                try:
                    rule(func, args, kwargs, result)
                    if names is not None:
                        after_inplace(names, result)
                except LayoutWarning:
                    raise  # -W error: the user asked for it
                except Exception as exc:  # a rule must never break the user's code
                    RULE_FAILURES.failed(func, exc)
        if _HELD.values:  # a warning waits for its value's use (`held`)
            with _no_torch_function():
                message = held.after(func, args, kwargs, result)
            if message is not None:
                warnings.warn(message, LayoutWarning, stacklevel=callers_level())
        if _REACH.values:  # which directions reach the output (`reach`)
            with _no_torch_function():
                reach.after(func, args, kwargs, result)
        return result

    def running(self) -> bool:
        """Whether the call that entered this mode is still running (a block always is)."""
        owner = self.owner
        if owner is None or self.ended:
            return not self.ended
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame is owner:
                return True
            frame = frame.f_back
        self.ended = True
        return False


HIDDEN = (_Follow.__torch_function__.__code__,)
"""The frames a user's failing op leaves in a traceback that `hide_frames` unlinks."""

_TAGS = registry.TAGS
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


def current() -> _Follow | None:
    """The thread's mode, if it is on and its call still running; an ended one is taken off."""
    mode: _Follow | None = getattr(_local, "mode", None)
    if mode is not None and not mode.running():
        drop_ended()
        return None
    return mode


def thread_mode() -> _Follow | None:
    """The thread's mode, as it is (an ended one too), or None."""
    mode: _Follow | None = getattr(_local, "mode", None)
    return mode


def drop_ended() -> None:
    """Take off the thread's mode if the call that entered it has ended (an interrupt
    skipped its leaving), as long as it is on top of the mode stack (else it stays,
    passing every op through, until it is)."""
    mode: _Follow | None = getattr(_local, "mode", None)
    if mode is not None and not mode.running():
        take_off(mode)


def take_off(mode: _Follow) -> None:
    """Leave `mode` now, if it is the thread's and on top of the mode stack."""
    stack = torch.overrides._get_current_function_mode_stack()  # type: ignore[no-untyped-call]
    if getattr(_local, "mode", None) is mode and stack and stack[-1] is mode:
        _local.mode = None
        mode.__exit__(None, None, None)


def start(owner: FrameType | None) -> _Follow | None:
    """Enter a mode for this thread, unless one is on: the mode entered, or None."""
    if _compiling() or current() is not None:
        return None
    with _no_torch_function():
        registry.key_bases()  # outputs of unfollowed calls: find their views
    held.release()
    reach.release()
    mode = _Follow(owner)
    mode.__enter__()  # type: ignore[no-untyped-call]
    _local.mode = mode
    return mode


def stop(mode: _Follow | None, finished: bool = True) -> None:
    """Leave `mode` (one `_start` entered), if it is still the thread's. Unless the code
    it followed raised (`finished` False), a value held for a warning is warned about."""
    current: _Follow | None = getattr(_local, "mode", None)
    if mode is not None and current is mode:
        _local.mode = None
        mode.__exit__(None, None, None)  # type: ignore[no-untyped-call]
        reach.release()  # a block's end: only a forward's output is looked at
        if not finished:
            held.release()
        for message in held.warn_alive():  # a held value returned, or kept: its end
            warnings.warn(message, LayoutWarning, stacklevel=callers_level())


@contextlib.contextmanager
def follow() -> Iterator[None]:
    """Carry names through the torch ops of the block, and warn about layout bugs.

    The results of `pad_packed_sequence`, `cat`, elementwise ops, reductions over a
    named axis, `index_select` along `batch` and a Linear head keep (or gain) the
    names of their annotated inputs; `bh.LayoutWarning` flags the classic bugs.
    Nested blocks, and followed models called inside one, follow once.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> rec = bh.attach_hooks(lstm)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> with bh.follow():
        ...     final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
        >>> print(bh.annotation_of(final).pattern, bh.annotation_of(final).at)
        batch (direction hidden) {'layer': 1}
    """
    mode, finished = start(None), False
    try:
        yield
        finished = True
    except BaseException as exc:  # a user's op failed: its traceback ends at the user's line
        hide_frames(exc.__traceback__, HIDDEN)
        raise
    finally:
        stop(mode, finished)
