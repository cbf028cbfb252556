"""Names in every repr, opt in: `bh.patch_repr()` makes an annotated tensor's `repr()` and
`str()` start with its names, so that `print`, pdb's `p`, the REPL, logging and tracebacks
show them; every other tensor's repr stays exactly torch's.

The line put first is `bh.describe`'s (metadata only: no tensor data is read beyond
what torch's own repr reads), then a newline and the text of the repr that was in place
before: torch's, or another patch's (lovely-tensors), unchanged. Patching twice is
patching once; `bh.unpatch_repr()` puts the previous repr back, or, where another patch
was made on top of this one since, leaves it in place and makes this one pass through
(patching again turns it back on where a `__wrapped__` chain still reaches it, else puts
a new one on top).
`BILSTM_HOOKS_REPR=1` in the environment patches at `import bilstm_hooks`, in every
process of a run that imports it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import torch

from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._core.registry import PENDING, TAGS
from .._core.storage_index import may_be_named
from .text import describe

__all__ = ["ENVIRONMENT", "patch_from_environment", "patch_repr", "unpatch_repr"]

ENVIRONMENT = "BILSTM_HOOKS_REPR"  # "1": patch at import
_LOCK = threading.Lock()
_modes_on = torch._C._is_torch_function_mode_enabled
_state: dict[str, Any] = {"previous": None, "ours": None, "on": False}


def patch_repr() -> None:
    """Make the repr and str of every annotated tensor start with its names.

    Any other tensor's repr is left exactly as it was; a repr patched before (such as
    lovely-tensors') keeps its text after the names. Safe to call twice.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> gru = torch.nn.GRU(3, 4)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": gru}))
        >>> out, h_n = gru(torch.randn(5, 2, 3))
        >>> bh.patch_repr()
        >>> print(repr(h_n).splitlines()[0])
        (layer=1 direction=1) batch=2 hidden=4 · encoder.h_n · float32 cpu
        >>> repr(torch.zeros(2)) == "tensor([0., 0.])"
        True
        >>> bh.unpatch_repr()
    """
    with _LOCK:
        if _state["on"]:
            return
        if _state["ours"] is not None and _in_chain(_state["ours"]):
            _state["on"] = True  # ours, left in place under another patch: on again
            return
        previous: Callable[..., str] = torch.Tensor.__repr__

        def __repr__(self: torch.Tensor, *args: Any, **kwargs: Any) -> str:
            names = None
            if (
                (tags or pending)  # nothing is named while the registry is empty
                and type(self) is plain
                and state["on"]
                and state["ours"] is __repr__
            ):
                try:  # else off, or an older patch of ours left in a chain: it passes
                    if modes_on() or may_be_named(self):  # the cheap look, inlined
                        names = names_line(self)
                except Exception:  # a repr must never fail because of us
                    names = None
            text = previous(self, *args, **kwargs)
            return text if names is None else f"{names}\n{text}"

        plain, state, names_line = torch.Tensor, _state, _names_line  # closure cells
        tags, pending, modes_on = TAGS, PENDING, _modes_on

        __repr__.__wrapped__ = previous  # type: ignore[attr-defined]
        _state.update(previous=previous, ours=__repr__, on=True)
        torch.Tensor.__repr__ = __repr__  # type: ignore[method-assign,assignment]


def unpatch_repr() -> None:
    """Undo `patch_repr`: every tensor's repr is the one before it again.

    Examples:
        >>> import bilstm_hooks as bh
        >>> bh.unpatch_repr()  # unpatched already: nothing to do
    """
    with _LOCK:
        if not _state["on"]:
            return
        _state["on"] = False
        if torch.Tensor.__repr__ is _state["ours"]:  # else patched on top since: it passes
            torch.Tensor.__repr__ = _state["previous"]  # type: ignore[method-assign]
            _state.update(previous=None, ours=None)


def patch_from_environment() -> None:
    """`patch_repr()` when `BILSTM_HOOKS_REPR` is `1` (the package's import runs this)."""
    if os.environ.get(ENVIRONMENT, "").strip() == "1":
        patch_repr()


def _in_chain(ours: Callable[..., str]) -> bool:
    """Whether `ours` is torch's repr now, or one a patch above it wraps (`__wrapped__`)."""
    function: Any = torch.Tensor.__repr__
    for _ in range(16):
        if function is ours:
            return True
        function = getattr(function, "__wrapped__", None)
        if function is None:
            return False
    return False


def _names_line(tensor: torch.Tensor) -> str | None:
    if _modes_on():  # our reads are not the user's ops (off inside: no second turn)
        with torch._C.DisableTorchFunction():
            return _names_line(tensor)
    if not may_be_named(tensor) or tensor.is_nested:  # the cheap look: no entry could
        return None
    annotated: AnnotatedTensor | None = annotation_of(tensor)
    return None if annotated is None else describe(annotated)
