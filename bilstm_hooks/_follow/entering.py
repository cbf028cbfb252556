"""The hooks that turn following on: around a followed model's forward, and at a call of
one of its recurrent layers made outside that forward.

`attach_hooks(model, follow=True)` follows each forward of `model` (its pre-hook
enters the mode, its always-called hook leaves it), and each call of one of its
recurrent layers made with no mode on: from a method such as `model.embed()` or
`model.forward_loss()`, or a training step that calls the layer itself. Such a call
enters a mode owned by the user's frame that called into the model's code (the first
frame above torch's, einops', this library's and the methods of modules): the step
function, or the loop. It follows what that frame computes from the outputs, the loss
included, until it returns; the mode is then taken off at the next hooked call,
`bh.follow()` block, or when the recorder is removed.
"""

from __future__ import annotations

import sys
import warnings
import weakref
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .._base.callers import INTERNAL, callers_level, hide_frames
from .._base.errors import UnusedDirectionWarning
from . import reach
from .mode import HIDDEN, current, start, stop, take_off, thread_mode

__all__ = ["FollowHooks", "track_reach"]

_compiling = torch.compiler.is_compiling
_no_torch_function = torch._C.DisableTorchFunction
_CALL_IMPL = nn.Module._call_impl.__code__


def track_reach(module: nn.Module, origin: str, layers: int, tensors: tuple[Any, ...]) -> None:
    """While a forward is followed (not a mode entered outside it, which has no end
    to warn at): follow which last-layer directions of `module`'s
    bidirectional call (its `out` is `origin`) reach the forward's output (`reach`)."""
    mode = thread_mode()
    if mode is not None and mode.owner is not None and mode.owner.f_code is _CALL_IMPL:
        reach.track(module, origin, layers, tensors)


def _user_frame(frame: FrameType | None) -> FrameType | None:
    """The first frame above torch's, einops', ours and the methods of modules (the
    model's code): the user's code that called into the model."""
    while frame is not None and (
        frame.f_code.co_filename.startswith(INTERNAL)
        or (frame.f_code.co_varnames[:1] == ("self",) and isinstance(_self(frame), nn.Module))
    ):
        frame = frame.f_back
    return frame


def _self(frame: FrameType) -> Any:
    return frame.f_locals.get("self")


def _caller_call(frame: FrameType | None) -> FrameType | None:
    """The frame of `nn.Module._call_impl` that runs the hook (None if not found)."""
    while frame is not None and frame.f_code is not _CALL_IMPL:
        frame = frame.f_back
    return frame


class FollowHooks:
    """The pre-hook and always-called hook that turn following on for `model`'s forward,
    and a pre-hook on each of its recurrent `layers` for calls made outside it.

    A call leaves the mode only if it entered it: the mode's `owner` is its frame. A
    layer called with no mode on (from `model.embed()`, a training step calling
    submodules) enters one owned by the user's frame that called into the model's code
    (`_user_frame`): the step, or the loop; it is taken off once that frame has
    returned, at the next hooked call or follow block.
    """

    OURS = True  # a hook of this library's (`_base.hook_dicts.is_ours`)

    def __init__(self, model: nn.Module, layers: list[nn.Module]) -> None:
        self.handles: list[RemovableHandle] = [
            model.register_forward_pre_hook(self._enter),
            model.register_forward_hook(self._leave, always_call=True),
            *(
                layer.register_forward_pre_hook(self._enter_outside)
                for layer in layers
                if layer is not model  # its own forward's mode is entered above
            ),
        ]
        self.outside: weakref.WeakSet[Any] = weakref.WeakSet()  # the modes those entered

    def _enter_outside(self, module: nn.Module, args: Any) -> None:
        if not _compiling() and current() is None:  # an ended mode taken off first
            owner = _user_frame(sys._getframe(1))
            mode = None if owner is None else start(owner)
            if mode is not None:
                self.outside.add(mode)

    def _enter(self, module: nn.Module, args: Any) -> None:
        if not _compiling():
            start(_caller_call(sys._getframe(1)))

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        raised = sys.exc_info()[1] if output is None else None  # the forward raised
        if raised is not None:  # its traceback ends at the user's line (`explain`)
            hide_frames(raised.__traceback__, HIDDEN)
        mode = thread_mode()
        if mode is not None and mode.owner is not None and not _compiling():  # noqa: SIM102
            if mode.owner is _caller_call(sys._getframe(1)):  # the call that entered it
                try:
                    with _no_torch_function():
                        used = reach.STORE.layers and raised is None
                        unused = reach.unused(output) if used else ()
                    for message in unused:
                        warnings.warn(message, UnusedDirectionWarning, stacklevel=callers_level())
                finally:
                    stop(mode, finished=raised is None)

    def remove(self) -> None:
        """Take the hooks off, and the thread's mode if a layer call outside entered it."""
        for handle in self.handles:
            handle.remove()
        mode = thread_mode()
        if mode is not None and mode in self.outside:
            take_off(mode)
