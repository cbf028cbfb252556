"""Labels that tell apart same-named layers of different models.

An encoder and a decoder hooked by two recorders may both hold a layer named `gru`.
Their tensors would both read `gru.out`. When a recorder's hook shares its name with
a hook of another model's class that is still attached, both labels take the model's
class as a prefix (`EncoderRNN.gru.out`, `LuongAttnDecoderRNN.gru.out`), from their
next call on: each hook's cached layouts, which hold the labels, are dropped.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .hook_base import HookBase

__all__ = ["distinguish", "forget"]

# every recorder's hooks, while they live
_LIVE: weakref.WeakSet[HookBase] = weakref.WeakSet()


def distinguish(hooks: Iterable[HookBase]) -> None:
    """Register a new recorder's hooks; prefix the labels of every clash with the model.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> class Encoder(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.gru = torch.nn.GRU(3, 4)
        ...     def forward(self, x):
        ...         return self.gru(x)
        >>> class Decoder(Encoder):
        ...     pass
        >>> models = Encoder(), Decoder()
        >>> recorders = [bh.attach_hooks(model) for model in models]
        >>> out, h_n = models[1](torch.randn(5, 2, 3))
        >>> recorders[1]["gru"].label, bh.describe(h_n).split(" · ")[1]
        ('Decoder.gru', 'Decoder.gru.h_n')
    """
    hooks = list(hooks)
    if any(_clash(hook, other) for hook in hooks for other in _LIVE):
        # a model dropped by the user but not yet collected (its hooks and it form a
        # cycle) is not a clash: only reachable hooks count, whatever the gc's timing
        gc.collect()
    for hook in hooks:
        for other in list(_LIVE):
            if _clash(hook, other):
                _qualify(hook)
                _qualify(other)
        _LIVE.add(hook)


def forget(hooks: Iterable[HookBase]) -> None:
    """A removed recorder's hooks: they record no more calls, so they clash no more."""
    for hook in hooks:
        _LIVE.discard(hook)


def _clash(hook: HookBase, other: HookBase) -> bool:
    """Two hooks whose layers would read alike, but that belong to different models."""
    return (
        bool(hook.name)
        and other.name == hook.name
        and other.module is not None
        and other.module is not hook.module
        and other.owner != hook.owner
    )


def _qualify(hook: HookBase) -> None:
    """`Model.name` from the hook's next call on."""
    label = f"{hook.owner}.{hook.name}"
    if hook.label != label:
        hook.label = label
        hook.layouts.clear()  # their tags hold the old label
