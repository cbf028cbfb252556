"""The library's own exception."""

from __future__ import annotations

__all__ = ["LayoutError"]


class LayoutError(RuntimeError):
    """A layout identity does not hold for the tensors of a recorded call.

    Raised by [`Record.check`][bilstm_hooks.Record.check]; the message names the
    identity, the module and where the tensors disagree.
    """
