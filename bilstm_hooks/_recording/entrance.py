"""Calls that a forward hook never sees: `layer.forward(x)` from a wrapper, and the parent's
forward inside a subclass's own.

torch runs forward hooks only around `module(...)`. A weight-drop wrapper calls
`self.module.forward(*args)`, so a hooked layer inside it would read "not called yet"
after a whole training run; an `nn.LSTM` subclass whose `forward` packs its input with
lengths passed as a keyword, then calls `super().forward(packed)`, gives the hook the
subclass's own arguments and results instead of the layer's.

`install()`, run by the first `attach_hooks`, wraps `nn.LSTM.forward`, `nn.GRU.forward`
and `nn.RNN.forward` once. Called by `module(...)` itself (the caller's frame is
`Module._call_impl`, or the `inner` it runs for hooks), the wrapper only passes the call
on: the forward hook records it. Called any other way, it gives the call, with the
layer's own arguments and results, to the hooks of that module, if any. Where a
`module(...)` of the same module encloses it (a subclass), that call's forward hook is
told to pass: the call is recorded once, as the layer ran it. A layer never hooked pays
one Python frame per call.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from torch import nn

from .._core.registry import LOCK
from .layer_notes import explain_call

__all__ = ["hook_directly", "install", "recorded_inside", "unhook_directly"]

# the frames of `module(...)` that call `forward`: `Module._call_impl` itself, without
# hooks, or the `inner` function it defines and runs when the module has some
_CALL_IMPL = nn.Module._call_impl.__code__
_INNER = next(
    code
    for code in _CALL_IMPL.co_consts
    if isinstance(code, types.CodeType) and code.co_name == "inner"
)
_CALLERS = (_CALL_IMPL, _INNER)  # compared by identity: a code object's hash is not cached
_getframe = sys._getframe
_ENCLOSING_LOOKED_AT = 8  # frames looked through for an enclosing `module(...)`
# module -> weak references to the hooks (`Hook`) that record its direct calls. Weak both
# ways: a hook holds its module, and neither may keep the other alive from here.
_HOOKS: weakref.WeakKeyDictionary[nn.Module, list[weakref.ref[Any]]] = weakref.WeakKeyDictionary()


def hook_directly(module: nn.Module, hook: Any) -> None:
    """Give `module`'s calls that bypass `module(...)` to `hook` too (a `Hook`)."""
    _HOOKS.setdefault(module, []).append(weakref.ref(hook))


def unhook_directly(module: nn.Module, hook: Any) -> None:
    """Undo `hook_directly`."""
    held = _HOOKS.get(module)
    if held is None:
        return
    held[:] = [ref for ref in held if ref() is not hook and ref() is not None]
    if not held:
        del _HOOKS[module]


def install() -> None:
    """Wrap the three recurrent classes' `forward` once (idempotent)."""
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        if not getattr(cls.forward, "_bilstm_hooks", False):
            cls.forward = _wrapped(cls.forward)  # type: ignore[method-assign]


def _wrapped(forward: Callable[..., Any]) -> Callable[..., Any]:
    # the weak dict's own dict: its truth is C's, where `WeakKeyDictionary.__len__` is Python's
    getframe, hooks, entered = _getframe, _HOOKS.data, _entered_directly  # type: ignore[attr-defined]
    explained = _explained
    call_impl, inner = _CALLERS

    def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        try:  # free until the call raises
            output = forward(self, *args, **kwargs)
        except Exception as exc:
            if hooks:
                input = args[0] if args else kwargs.get("input")
                explained(exc, self, input, args[1] if len(args) > 1 else kwargs.get("hx"))
            raise
        if hooks:
            caller = getframe(1).f_code
            if caller is not inner and caller is not call_impl:  # not called by module(...)
                entered(self, args, kwargs, output)
        return output

    def exact(self: nn.Module, input: Any, hx: Any = None) -> Any:
        # torch's own signature: no packing of *args and **kwargs on every call
        try:  # free until the call raises
            output = forward(self, input, hx)
        except Exception as exc:
            if hooks:
                explained(exc, self, input, hx)
            raise
        if hooks:
            caller = getframe(1).f_code
            if caller is not inner and caller is not call_impl:  # not called by module(...)
                entered(self, (input,) if hx is None else (input, hx), {}, output)
        return output

    if _takes_input_and_hx(forward):
        wrapper = exact
    # the globals of the forward it wraps (its names all come from the closure): what
    # `torch.jit.script` resolves the original's source (`__wrapped__`) against
    wrapper = types.FunctionType(
        wrapper.__code__,
        forward.__globals__,
        wrapper.__name__,
        wrapper.__defaults__,
        wrapper.__closure__,
    )
    wrapper = functools.wraps(forward)(wrapper)
    wrapper._bilstm_hooks = True  # type: ignore[attr-defined]
    return wrapper


def _explained(exc: Exception, module: nn.Module, input: Any, hx: Any) -> None:
    """A hooked layer raised on its arguments: the note of what it expected (`layer_notes`)."""
    hooks = [hook for hook in (ref() for ref in _HOOKS.get(module) or ()) if hook is not None]
    if hooks:
        explain_call(exc, module, hooks[0].label, input, hx)


def _takes_input_and_hx(forward: Callable[..., Any]) -> bool:
    """Whether `forward` is `(self, input, hx=None)`, as torch's three layers' are."""
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return False
    names = [(p.name, p.kind, p.default) for p in parameters]
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return names == [
        ("self", positional, inspect.Parameter.empty),
        ("input", positional, inspect.Parameter.empty),
        ("hx", positional, None),
    ]


def _entered_directly(module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
    held = _HOOKS.get(module)
    hooks = [hook for hook in (ref() for ref in held or ()) if hook is not None]
    if not hooks:
        return
    enclosing = _enclosing_call_args(module)
    for hook in hooks:
        if enclosing is not None:  # its forward hook is yet to run: it passes on that call
            hook.covered.append(enclosing)
        hook.record(module, args, kwargs, output)


def _enclosing_call_args(module: nn.Module) -> tuple[Any, ...] | None:
    """The arguments of the `module(...)` call that this one runs inside (a subclass's
    forward calling the parent's), or None where there is none."""
    frame: types.FrameType | None = _getframe(3)  # the wrapper's caller: a subclass's forward
    for _ in range(_ENCLOSING_LOOKED_AT):
        if frame is None:
            return None
        code = frame.f_code
        if (code is _INNER or code is _CALL_IMPL) and frame.f_locals.get("self") is module:
            args: tuple[Any, ...] | None = frame.f_locals.get("args")
            return args
        frame = frame.f_back
    return None


def recorded_inside(covered: deque[tuple[Any, ...]], args: tuple[Any, ...]) -> bool:
    """Whether the `module(...)` call of `args` was recorded inside already (a subclass's
    forward), taking it off `covered`, a hook's arguments of such calls. They are held,
    not their ids, so that one left by an exception is never taken for a later call's."""
    with LOCK:
        for index, held in enumerate(covered):
            if held is args:  # by identity: `==` of tuples compares their tensors
                del covered[index]
                return True
    return False
