"""Where torch keeps a module's forward hooks, and how this library's are told apart.

A module's hooks live in private dicts of its `__dict__` (torch's names, written here
once). Every hook this library registers is a bound method of an object whose class
says `OURS = True`: the saved-model guard, the summary and the hooks themselves tell
them apart by that mark alone, without importing the classes.

Examples:
    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4)
    >>> handle = lstm.register_forward_hook(lambda module, args, out: None)
    >>> [is_ours(hook) for hook in lstm._forward_hooks.values()]
    [False]
"""

from __future__ import annotations

__all__ = ["FORWARD_HOOK_DICTS", "HOOK_DICTS", "is_ours"]

# a forward hook is in the first; the other two hold its id when registered so
FORWARD_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
)
HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", *FORWARD_HOOK_DICTS)


def is_ours(hook: object) -> bool:
    """Whether `hook` (a value of a module's hook dicts) is one of this library's."""
    return getattr(type(getattr(hook, "__self__", None)), "OURS", False) is True
