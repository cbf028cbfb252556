"""What the replay reads of one recorded call: a `Record` is one.

The replay sits below the recording floor: it never imports `Record`, it reads these
members of the call it is given (a structural type, as `typing.Protocol` checks them).

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> gru = torch.nn.GRU(3, 4)
    >>> rec = bh.attach_hooks(gru)
    >>> out, h_n = gru(torch.randn(5, 2, 3))
    >>> call: RecordedCall = rec[gru]
    >>> call.why_unreadable("replay it") is None
    True
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._base.versions import ROLES
from .._core.annotated import AnnotatedTensor
from .._names.layout import Layout, Role

__all__ = ["RecordedCall"]


class RecordedCall(Protocol):
    """One call of a recurrent layer, as the hook kept it (see `Record`)."""

    @property
    def module(self) -> nn.Module: ...

    @property
    def layout(self) -> Layout: ...

    @property
    def label(self) -> str: ...

    @property
    def where(self) -> str: ...

    @property
    def h_0(self) -> torch.Tensor | None: ...

    @property
    def c_0(self) -> torch.Tensor | None: ...

    @property
    def trained_with_dropout(self) -> bool: ...

    @property
    def weights_changed(self) -> bool: ...

    @property
    def out(self) -> AnnotatedTensor: ...

    @property
    def lengths(self) -> torch.Tensor | None: ...

    def raw(self, role: Role) -> torch.Tensor | PackedSequence | None: ...

    def why_unreadable(self, what: str, roles: tuple[str, ...] = ROLES) -> str | None: ...
