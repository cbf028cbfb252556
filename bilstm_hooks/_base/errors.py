"""The library's own exception."""

from __future__ import annotations

__all__ = ["LayoutError", "LayoutWarning"]


class LayoutError(RuntimeError):
    """A layout identity does not hold for the tensors of a recorded call.

    Raised by [`Record.check`][bilstm_hooks.Record.check]; the message names the
    identity, the module and where the tensors disagree.
    """


class LayoutWarning(UserWarning):
    """A layout bug caught at the line that makes it, while names are followed.

    Emitted with `attach_hooks(model, follow=True)` or inside `bh.follow()`: a view
    that mixes `batch` with `(layer direction)`, the last token of a bidirectional
    `out` with both halves, a reduction over padded tokens, directions joined along
    the batch axis. The message names the module's tensor, what happened and the fix.

    Examples:
        >>> import warnings, bilstm_hooks as bh
        >>> issubclass(bh.LayoutWarning, UserWarning)
        True
    """
