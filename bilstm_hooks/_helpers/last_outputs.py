"""The last valid output of each sequence: `last_outputs`, packed and padded batches included.

No hooks needed: the sizes come from explicit keywords or from the module.
"""

from __future__ import annotations

from collections.abc import Sequence

import einops
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.keywords import checked_keywords
from .lengths import as_lengths, batch_first_of, check_batch_first, check_lengths
from .sizes import as_tensor, module_sizes, resolve, shape_of

__all__ = ["last_outputs"]


@checked_keywords
def last_outputs(
    out: torch.Tensor | PackedSequence,
    lengths: torch.Tensor | Sequence[int] | None = None,
    *,
    module: nn.Module | None = None,
    batch_first: bool | None = None,
    directions: int | None = None,
) -> torch.Tensor:
    """The final state of every sequence, read from `out`: `(batch, direction*hidden)`.

    The forward half is taken at each sequence's last valid token (`lengths[b] - 1`),
    the backward half at token 0, which is where the backward direction ends.
    `out[:, -1]` gets the backward half wrong always, and the forward half wrong for
    every padded row. Equals `final_representation(h_n)` of the same call.

    Args:
        out: the first output of the layer: a padded tensor or a PackedSequence
            (whose lengths are then read from it).
        lengths: valid tokens per sequence, in batch order (an int tensor on any
            device, or a sequence of ints; not a mask); None means all full.
        module: the layer, to read `directions` (and `batch_first`) from.
        batch_first: the layout of a padded `out`. Given, it wins over the module's:
            a padded tensor's layout is its own (`pad_packed_sequence` is time-major
            by default). Left out, the lengths pin the batch axis, else the module's.
        directions: 1 or 2, when no module is given.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> x = torch.randn(3, 6, 3)
        >>> packed = pack_padded_sequence(x, [6, 2, 4], batch_first=True, enforce_sorted=False)
        >>> out, (h_n, c_n) = lstm(packed)
        >>> final = bh.final_representation(h_n, module=lstm)
        >>> torch.equal(bh.last_outputs(out, module=lstm), final)
        True
        >>> padded, lengths = pad_packed_sequence(out)  # token batch (direction hidden)
        >>> torch.equal(bh.last_outputs(padded, lengths, module=lstm, batch_first=False), final)
        True
    """
    what = "last_outputs"
    plain = as_tensor(what, out, "a tensor or PackedSequence")
    known = module_sizes(what, module)
    d = int(resolve(what, module, known, directions=directions)["directions"] or 0)
    explicit_first = check_batch_first(what, batch_first)
    given = None if lengths is None else as_lengths(what, lengths)
    data, given, unbatched = _as_batch_first(what, out, plain, given, explicit_first, module)
    _check_width_and_tokens(what, data, plain, d, known.get("hidden"))
    if given is not None:
        check_lengths(what, given, data.shape[0], data.shape[1], shape_of(plain))
    result = _forward_last_backward_first(data, given, d)
    return result[0] if unbatched else result


def _as_batch_first(
    what: str,
    out: torch.Tensor | PackedSequence,
    plain: torch.Tensor,
    given: torch.Tensor | None,
    explicit_first: bool | None,
    module: nn.Module | None,
) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    """`out` as batch token (direction hidden), the lengths that hold for it, and if unbatched."""
    if isinstance(out, PackedSequence):
        data, packed_lengths = _unpack(out)
        if given is not None:
            check_lengths(what, given, data.shape[0], data.shape[1], shape_of(data))
            if not torch.equal(given.cpu(), packed_lengths.to(torch.int64)):
                raise ValueError(
                    f"{what}: expected lengths to match the PackedSequence's "
                    f"{packed_lengths.tolist()}, got {given.tolist()}; leave lengths out "
                    "for packed input"
                )
        return data, packed_lengths, False
    if plain.dim() == 2:  # unbatched: token (direction hidden)
        if given is not None:
            raise ValueError(
                f"{what}: expected no lengths for an unbatched out (token (direction hidden)), "
                f"got lengths for shape {shape_of(plain)}; lengths apply to batched (3-D) "
                "outputs only"
            )
        return plain.unsqueeze(0), None, True
    if plain.dim() == 3:
        first = batch_first_of(
            what,
            plain,
            given,
            explicit_first,
            bool(module.batch_first) if isinstance(module, nn.RNNBase) else None,
        )
        return (plain if first else plain.transpose(0, 1)), given, False
    raise ValueError(
        f"{what} expected out as batch token (direction hidden), "
        "token batch (direction hidden) or unbatched token (direction hidden), "
        f"got shape {shape_of(plain)}"
    )


def _check_width_and_tokens(
    what: str, data: torch.Tensor, plain: torch.Tensor, d: int, hidden: int | None
) -> None:
    """Refuse a last axis that is not (direction hidden), and an `out` of no tokens."""
    _, tokens, width = data.shape
    if width % d or width < d or (hidden is not None and width != d * hidden):
        h_n_like = hidden is not None and plain.dim() == 3 and plain.shape[-1] == hidden
        raise ValueError(
            "cannot split directions: expected ... (direction hidden) = "
            f"(..., ({d} {hidden if hidden is not None else '?'})), got shape {shape_of(plain)}."
            + (" Is it h_n? final_representation() reads h_n." if h_n_like else "")
        )
    if tokens == 0:
        raise ValueError(f"{what}: expected at least one token, got shape {shape_of(plain)}")


def _forward_last_backward_first(
    data: torch.Tensor, lengths: torch.Tensor | None, d: int
) -> torch.Tensor:
    """The gather: forward half at each last valid token, backward half at token 0, joined."""
    batch = data.shape[0]
    per_dir = einops.rearrange(data, "b t (direction h) -> b t direction h", direction=d)
    if lengths is None:
        forward = per_dir[:, -1, 0]
    else:
        index = lengths.to(device=data.device) - 1
        forward = per_dir[torch.arange(batch, device=data.device), index, 0]
    halves = [forward] if d == 1 else [forward, per_dir[:, 0, 1]]
    return torch.cat(halves, dim=-1)


def _unpack(out: PackedSequence) -> tuple[torch.Tensor, torch.Tensor]:
    """A PackedSequence padded batch-first, and its lengths."""
    try:
        padded, lengths = pad_packed_sequence(out, batch_first=True)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(
            "last_outputs: expected a PackedSequence as pack_padded_sequence makes it, got "
            f"one that pad_packed_sequence cannot unpack ({exc})"
        ) from exc
    return padded, lengths
