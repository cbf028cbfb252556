"""What a layer's hook (`hook.Hook`) and a cell's (`cell_hook.CellHook`) share: who they
record, their count of calls, and what they do with a call they cannot read (counted,
its cause kept, warned about once, the forward pass never broken)."""

from __future__ import annotations

import contextlib
import itertools
import warnings
from typing import Any

from torch import nn

from .._base.callers import callers_level
from .._core import registry
from .._names.layout import label_of
from .call_checks import who

__all__ = ["HookBase"]


class HookBase:
    """The state and failure handling of one module's forward hook.

    In a copied or unpickled model the hook is inert (`module` None): it records
    nothing, and takes itself off the copy at the copy's first call.
    """

    OURS = True  # a hook of this library's (`_base.hook_dicts.is_ours`)

    __slots__ = (
        "__weakref__",
        "counted",
        "detach",
        "failure",
        "failures",
        "label",
        "last_hook",
        "layouts",
        "module",
        "name",
        "owner",
        "skipped",
        "warned",
    )

    def __init__(
        self,
        module: nn.Module | None,
        name: str,
        detach: bool,
        last_hook: list[Any] | None,
        owner: str,
    ) -> None:
        self.module = module
        self.name = name
        self.owner = owner  # the class of the model hooked: `labels` prefixes clashes with it
        self.label = name if module is None else label_of(name, module)  # shown with tensors
        self.detach = detach
        self.last_hook: list[Any] = [None] if last_hook is None else last_hook  # the recorder's
        self.counted = itertools.count()  # recorded calls: `next()` is one atomic step
        self.failures = 0  # could not be read
        self.failure = ""  # the cause of the latest failure
        self.skipped = 0  # traced or fake: not calls
        self.warned = False
        # what each call shape gives its tensors (their origins hold `label`): cleared when
        # the label is qualified (`labels`)
        self.layouts: dict[Any, Any] = {}

    @property
    def calls(self) -> int:
        """How many calls were recorded."""
        return int(repr(self.counted)[len("count(") : -1])  # reading it leaves it as it is

    def _failed(self, module: nn.Module, exc: Exception) -> None:
        # the message only: an exception's traceback would keep the call's tensors alive
        cause = f"{type(exc).__name__}: {exc}"
        with registry.LOCK:
            self.failures += 1
            self.failure = cause
        self._warn_once(
            module,
            f"bilstm_hooks could not record a call of {who(self.name, module)}: {cause}. "
            "The forward pass is unaffected; rec[...] names the latest cause.",
        )

    def _warn_once(self, module: nn.Module, message: str) -> None:
        with registry.LOCK:
            if self.warned:
                return
            self.warned = True
        message += " Later problems of this module are not warned about."
        # under -W error a warning raises: that must not break the forward pass either
        with contextlib.suppress(Exception):
            warnings.warn(message, RuntimeWarning, stacklevel=callers_level())

    def __reduce__(self) -> tuple[type[HookBase], tuple[None, str, int, bool]]:
        # a copy of a hooked model whose class keeps hooks in its state: inert
        return (type(self), (None, self.name, 1, self.detach))
