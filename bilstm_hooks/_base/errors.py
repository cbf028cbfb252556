"""The library's own exception and warning, and the one language of its errors.

Every error names what was expected and what arrived: `expected <what>, got <value>`.

- `TypeError`: an argument of the wrong type (a bool is never a count, a mask never
  lengths); `ValueError`: the right type, a wrong value, or values that cannot be read
  (changed in place since the call, inside `torch.func.vmap`, on the meta device).
- `KeyError`: a key that names nothing known (`rec["nope"]`, `summary["decoder"]`);
  `LookupError` (not a KeyError): a module that is known but has no record yet (not
  called, cleared, or its calls could not be recorded: the message says which).
- `LayoutError`: a layout identity that fails on real tensors.
- `RuntimeWarning`, once per hook and once for the follow rules: a call that could not
  be recorded, or an op whose names could not be followed; the forward pass and the
  op's result are never changed, and the latest cause is kept.
- `LayoutWarning`: a layout bug caught at the line that makes it;
  `UnusedDirectionWarning`, one of them: a bidirectional layer's last-layer direction
  that never reaches what a followed forward returns.
"""

from __future__ import annotations

__all__ = ["LayoutError", "LayoutWarning", "UnusedDirectionWarning", "add_note", "has_note"]

_NOTED = "_bilstm_hooks_noted"  # set on an exception this library has added a note to


class LayoutError(RuntimeError):
    """A layout identity does not hold for the tensors of a recorded call.

    Raised by [`Record.check`][bilstm_hooks.Record.check] (the forward half of `out`
    at the last valid token against `h_n`'s forward row, the backward half at token 0
    against its backward row) and by
    [`Unrolled.check`][bilstm_hooks.Unrolled.check] (the step-by-step replay against
    the fused call). The message names the identity, the module, where the tensors
    disagree and by how much. Never raised for values that cannot be compared: those
    are a `ValueError` saying why.

    Examples:
        >>> import bilstm_hooks as bh
        >>> issubclass(bh.LayoutError, RuntimeError)
        True
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


class UnusedDirectionWarning(LayoutWarning):
    """One direction of a bidirectional layer's last layer never reaches the output.

    Warned once per layer, at the end of a followed forward (`attach_hooks(model,
    follow=True)`) whose returned values (logits, loss, state) hold that layer's last
    backward direction and not its forward one, or the other way round:
    `fc(h_n[-1])` on a bidirectional classifier reads the backward row only. To use
    one direction on purpose, filter this category.

    Examples:
        >>> import warnings, bilstm_hooks as bh
        >>> with warnings.catch_warnings():  # one direction, on purpose
        ...     warnings.filterwarnings("ignore", category=bh.UnusedDirectionWarning)
        >>> issubclass(bh.UnusedDirectionWarning, bh.LayoutWarning)
        True
    """


def add_note(exc: BaseException, note: str) -> None:
    """Add `note` to `exc`, its type and its message unchanged (`add_note` on Python 3.11+;
    on 3.10, the note follows the message on a new line); once per exception."""
    if has_note(exc):
        return
    try:
        setattr(exc, _NOTED, True)
    except (AttributeError, TypeError):  # an exception type with slots: leave it as it is
        return
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    elif exc.args and isinstance(exc.args[0], str):  # Python 3.10
        exc.args = (f"{exc.args[0]}\n{note}", *exc.args[1:])


def has_note(exc: BaseException) -> bool:
    """Whether this library has added its note to `exc` already."""
    return bool(getattr(exc, _NOTED, False))
