"""What a hooked layer leaves in a saved, copied or scripted model: nothing of ours.

A module's forward hooks live in its `__dict__`, so `torch.save(model)`, pickle and
`copy.deepcopy` would carry them along: the file would then need bilstm_hooks to
load, and `weights_only=True` would refuse it. `install()`, run by the first
`attach_hooks`, wraps `nn.RNNBase.__getstate__` (what all three of those use for
an LSTM, GRU or RNN) so that the state it returns lacks this library's hooks,
and gives `nn.RNNBase` a `__prepare_scriptable__` that asks for the hooks to be
removed before `torch.jit.script`, which would otherwise fail deep inside on
compiling them. Both are no-ops for a layer that is not hooked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

from .._base.hook_dicts import FORWARD_HOOK_DICTS, HOOK_DICTS, is_ours

__all__ = ["install"]


def _our_ids(module_dict: dict[str, Any]) -> set[int]:
    ours: set[int] = set()
    for name in (FORWARD_HOOK_DICTS[0], HOOK_DICTS[0]):  # where hooks are; the rest marks
        hooks = module_dict.get(name)
        if hooks:
            ours.update(key for key, hook in hooks.items() if is_ours(hook))
    return ours


def _without_our_hooks(state: dict[str, Any]) -> dict[str, Any]:
    ours = _our_ids(state)
    if not ours:
        return state
    state = dict(state)
    for name in HOOK_DICTS:
        hooks = state.get(name)
        if hooks is not None:
            state[name] = type(hooks)((k, v) for k, v in hooks.items() if k not in ours)
    return state


def _prepare_scriptable(self: nn.Module) -> nn.Module:
    if _our_ids(self.__dict__):
        raise RuntimeError(
            f"cannot script this {type(self).__name__} while bilstm_hooks hooks it: "
            "torch.jit.script compiles a module's forward hooks, and bilstm_hooks' are "
            "Python. Remove them first (rec.remove(), or leave the `with "
            "bh.attach_hooks(...)` block), script, then attach_hooks again if needed"
        )
    return self


def install(*, every_module: bool = False) -> None:
    """Patch `nn.RNNBase` once (idempotent): saved, copied and scripted layers carry no hook.

    `every_module=True` patches `nn.Module.__getstate__` too, for the follow hooks
    of a model's root, which may be any module.
    """
    _wrap_getstate(nn.RNNBase)
    nn.RNNBase.__prepare_scriptable__ = _prepare_scriptable  # type: ignore[attr-defined]
    if every_module:
        _wrap_getstate(nn.Module)


def _wrap_getstate(cls: type[nn.Module]) -> None:
    original: Callable[..., dict[str, Any]] = cls.__getstate__
    if getattr(original, "_bilstm_hooks", False):
        return

    @functools.wraps(original)
    def __getstate__(self: nn.Module) -> dict[str, Any]:
        return _without_our_hooks(original(self))

    __getstate__._bilstm_hooks = True  # type: ignore[attr-defined]
    cls.__getstate__ = __getstate__  # type: ignore[method-assign]
