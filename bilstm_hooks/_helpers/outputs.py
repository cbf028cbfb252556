"""Plain-tensor helpers: split directions and layers, take the final state of `h_n`.

No hooks needed: the sizes come from explicit keywords or from the module.
"""

from __future__ import annotations

import einops
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._base.keywords import checked_keywords
from .._core import registry
from .sizes import as_tensor, module_sizes, resolve, shape_of

__all__ = ["final_representation", "split_directions", "split_layers"]


@checked_keywords
def split_directions(
    out: torch.Tensor | PackedSequence,
    *,
    module: nn.Module | None = None,
    directions: int | None = None,
    hidden: int | None = None,
) -> tuple[torch.Tensor, ...]:
    """Split the last axis of a recurrent `out`, `(direction hidden)`, into directions.

    Works for any leading axes (batched, unbatched, batch-first or not) and for the
    `.data` of a PackedSequence. Returns views.

    Args:
        out: the first output of an `nn.LSTM`/`nn.GRU`/`nn.RNN`.
        module: the layer, to read the sizes from.
        directions: 1 or 2, when no module is given.
        hidden: the per-direction size (`proj_size` if set), to validate the shape.

    Explicit sizes are checked against `module`'s; bools are not sizes.

    Returns:
        `(forward, backward)`, or `(forward,)` for a unidirectional layer.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> out, _ = lstm(torch.randn(2, 6, 3))
        >>> fwd, bwd = bh.split_directions(out, module=lstm)
        >>> fwd.shape, bwd.shape
        (torch.Size([2, 6, 4]), torch.Size([2, 6, 4]))
    """
    what = "split_directions"
    data = as_tensor(what, out, "a tensor or PackedSequence")
    known = module_sizes(what, module)
    sizes = resolve(what, module, known, optional="hidden", directions=directions, hidden=hidden)
    d, h = int(sizes["directions"] or 0), sizes["hidden"]
    last = data.shape[-1] if data.dim() else 0
    if h is None and last % d == 0:
        h = last // d
    if data.dim() < 1 or not h or last != d * h:
        hint = " Was the tensor already split?" if h is not None and last == h else ""
        raise ValueError(
            "cannot split directions: expected ... (direction hidden) = "
            f"(..., ({d} {h or '?'})), got shape {shape_of(data)}.{hint}"
        )
    halves = einops.rearrange(data, "... (direction hidden) -> direction ... hidden", direction=d)
    return tuple(halves.unbind(0))


@checked_keywords
def split_layers(
    h_n: torch.Tensor,
    *,
    module: nn.Module | None = None,
    layers: int | None = None,
    directions: int | None = None,
) -> torch.Tensor:
    """`h_n` or `c_n`, `(layer direction) [batch] hidden`, as `layer direction [batch] hidden`.

    Rows of `h_n` are layer-major: layer 0 forward, layer 0 backward, layer 1 forward...
    and `batch_first` never applies to them. The result is a view. Explicit sizes are
    checked against `module`'s; bools are not sizes.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> per_layer = bh.split_layers(h_n, module=lstm)
        >>> per_layer.shape                      # layer, direction, batch, hidden
        torch.Size([2, 2, 5, 4])
        >>> torch.equal(per_layer[1, 0], h_n[2])  # last layer, forward
        True
    """
    return _split_layers("split_layers", h_n, module, layers, directions)


def _split_layers(
    what: str, h_n: object, module: object, layers: object, directions: object
) -> torch.Tensor:
    """`h_n` (or `c_n`) as `layer direction [batch] hidden`, its sizes checked."""
    data = as_tensor(what, h_n, "a tensor")
    if isinstance(h_n, PackedSequence):
        raise TypeError(f"{what} expected a tensor (h_n or c_n), got PackedSequence")
    known = module_sizes(what, module)
    sizes = resolve(what, module, known, layers=layers, directions=directions)
    n_layers, d = int(sizes["layers"] or 0), int(sizes["directions"] or 0)
    widths = sorted({known["hidden"], known["cell"]}) if known else []
    last = data.shape[-1] if data.dim() else 0
    if (
        data.dim() not in (2, 3)
        or data.shape[0] != n_layers * d
        or last < 1
        or (widths and last not in widths)
    ):
        hidden = " or ".join(map(str, widths)) if widths else "hidden"
        raise ValueError(
            "cannot split layers: expected (layer direction) batch hidden = "
            f"(({n_layers} {d}), batch, {hidden}) (or unbatched (layer direction) hidden), "
            f"got shape {shape_of(data)}. Note batch_first never applies to h_n and c_n."
        )
    return einops.rearrange(
        data, "(layer direction) ... -> layer direction ...", layer=n_layers, direction=d
    )


@checked_keywords
def final_representation(
    h_n: torch.Tensor,
    *,
    module: nn.Module | None = None,
    layers: int | None = None,
    directions: int | None = None,
) -> torch.Tensor:
    """The sequence representation: the last layer's rows of `h_n`, directions joined.

    `(batch, direction*hidden)`, i.e. `cat(h_n[-2], h_n[-1], dim=-1)` for a
    bidirectional layer and `h_n[-1]` for a unidirectional one. Correct per
    sequence for packed input too, because `h_n` is.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> rep = bh.final_representation(h_n, module=lstm)
        >>> torch.equal(rep, torch.cat([h_n[-2], h_n[-1]], dim=-1))
        True
    """
    tag = registry.lookup(h_n) if isinstance(h_n, torch.Tensor) else None
    if tag is not None and tag.role == "out":  # the classic mix-up: out for h_n
        raise ValueError(
            f"final_representation expected h_n, got {tag.origin} (the layer's out): for "
            "each sequence's last valid output use bh.last_outputs(out, lengths, module=...)"
        )
    last = _split_layers("final_representation", h_n, module, layers, directions)[-1]
    return einops.rearrange(last, "direction ... hidden -> ... (direction hidden)")
