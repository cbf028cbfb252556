"""Before any optimizer step, the layers' records not read yet are built, so that each
keeps the versions of its layer's weights from before the step (`_base.versions`): a
replay or an entrance check can then tell that the weights changed since the call."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable
from typing import Any

from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.hooks import RemovableHandle

from .hook import Hook

__all__ = ["watch"]

# the hooks whose records may be unread: held weakly, the recorder kept or not (a hook
# lives as long as its module's hook dict holds it)
_LIVE: weakref.WeakSet[Hook] = weakref.WeakSet()
_STEP_HOOK: list[RemovableHandle] = []


def watch(hooks: Iterable[Hook]) -> None:
    """Build the unread records of `hooks` before every optimizer step from now on."""
    _LIVE.update(hooks)
    if not _STEP_HOOK:
        _STEP_HOOK.append(register_optimizer_step_pre_hook(_before_step))


def _before_step(optimizer: Any, args: Any, kwargs: Any) -> None:
    for hook in list(_LIVE):
        with contextlib.suppress(Exception):  # never break the user's training step
            hook.kept_records()
