"""Plain-tensor helpers: split directions and layers, take the right final states.

No hooks needed: the sizes come from explicit keywords or from the module.
"""

from __future__ import annotations

from collections.abc import Sequence

import einops
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from ._layout import kind_of

__all__ = ["final_representation", "last_outputs", "split_directions", "split_layers"]


def _resolve(
    what: str, module: nn.Module | None, **given: int | bool | None
) -> dict[str, int | bool]:
    """Fill the sizes a helper needs from `module`, checking explicit ones agree."""
    if module is not None:
        kind_of(module)  # TypeError for anything but a recurrent module
        proj = getattr(module, "proj_size", 0) or 0
        from_module: dict[str, int | bool] = {
            "directions": 2 if module.bidirectional else 1,
            "layers": module.num_layers,  # type: ignore[dict-item]
            "hidden": proj if proj > 0 else module.hidden_size,  # type: ignore[dict-item]
            "batch_first": bool(module.batch_first),
        }
    else:
        from_module = {}
    resolved: dict[str, int | bool] = {}
    for name, value in given.items():
        known = from_module.get(name)
        if value is not None and known is not None and value != known:
            raise ValueError(
                f"{what}: {name}={value} disagrees with the module, which has {name}={known}"
            )
        if value is None:
            value = known
        if value is None:
            raise TypeError(
                f"{what} needs to know {name}: pass module=<the recurrent layer> or {name}=..."
            )
        if name == "directions" and value not in (1, 2):
            raise ValueError(f"{what}: expected directions to be 1 or 2, got {value!r}")
        if name != "batch_first" and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{what}: expected {name} to be a positive int, got {value!r}")
        resolved[name] = value
    return resolved


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


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

    Returns:
        `(forward, backward)`, or `(forward,)` for a unidirectional layer.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> out, _ = lstm(torch.randn(2, 6, 3))
        >>> fwd, bwd = bh.split_directions(out, module=lstm)
        >>> fwd.shape, bwd.shape
        (torch.Size([2, 6, 4]), torch.Size([2, 6, 4]))
    """
    data = out.data if isinstance(out, PackedSequence) else out
    if not isinstance(data, torch.Tensor):
        raise TypeError(
            f"split_directions expected a tensor or PackedSequence, got {type(out).__qualname__}"
        )
    sizes = _resolve("split_directions", module, directions=directions)
    d = int(sizes["directions"])
    if hidden is None and module is not None:
        hidden = int(_resolve("split_directions", module, hidden=None)["hidden"])
    last = data.shape[-1] if data.dim() else 0
    h = hidden if hidden is not None else (last // d if last % d == 0 else None)
    if data.dim() < 1 or h is None or last != d * h:
        hint = " Was the tensor already split?" if hidden is not None and last == hidden else ""
        raise ValueError(
            "cannot split directions: expected ... (direction hidden) = "
            f"(..., ({d} {h if h is not None else '?'})), got shape {_shape(data)}.{hint}"
        )
    halves = einops.rearrange(data, "... (direction hidden) -> direction ... hidden", direction=d)
    return tuple(halves.unbind(0))


def split_layers(
    h_n: torch.Tensor,
    *,
    module: nn.Module | None = None,
    layers: int | None = None,
    directions: int | None = None,
) -> torch.Tensor:
    """`h_n` or `c_n`, `(layer direction) [batch] hidden`, as `layer direction [batch] hidden`.

    Rows of `h_n` are layer-major: layer 0 forward, layer 0 backward, layer 1 forward...
    and `batch_first` never applies to them. The result is a view.

    Example:
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
    what: str,
    h_n: torch.Tensor,
    module: nn.Module | None,
    layers: int | None,
    directions: int | None,
) -> torch.Tensor:
    if not isinstance(h_n, torch.Tensor):
        raise TypeError(f"{what} expected a tensor, got {type(h_n).__qualname__}")
    sizes = _resolve(what, module, layers=layers, directions=directions)
    n_layers, d = int(sizes["layers"]), int(sizes["directions"])
    if h_n.dim() not in (2, 3) or h_n.shape[0] != n_layers * d:
        raise ValueError(
            "cannot split layers: expected (layer direction) batch hidden = "
            f"(({n_layers} {d}), batch, hidden) (or unbatched (layer direction) hidden), "
            f"got shape {_shape(h_n)}. Note batch_first never applies to h_n and c_n."
        )
    return einops.rearrange(
        h_n, "(layer direction) ... -> layer direction ...", layer=n_layers, direction=d
    )


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

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        >>> out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
        >>> rep = bh.final_representation(h_n, module=lstm)
        >>> torch.equal(rep, torch.cat([h_n[-2], h_n[-1]], dim=-1))
        True
    """
    last = _split_layers("final_representation", h_n, module, layers, directions)[-1]
    return einops.rearrange(last, "direction ... hidden -> ... (direction hidden)")


def _lengths_tensor(lengths: torch.Tensor | Sequence[int], batch: int, tokens: int) -> torch.Tensor:
    if not isinstance(lengths, torch.Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(
                "expected lengths as a 1-D int tensor or a list of ints, "
                f"got {type(lengths).__qualname__}"
            ) from exc
    if lengths.dim() != 1 or lengths.shape[0] != batch or lengths.is_floating_point():
        raise ValueError(
            f"expected lengths as {batch} ints (one per batch row), got "
            f"{lengths.dtype} of shape {_shape(lengths)}"
        )
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > tokens):
        raise ValueError(
            f"expected every length in [1, {tokens}] (the token axis), got "
            f"min {int(lengths.min())}, max {int(lengths.max())}"
        )
    return lengths


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
        lengths: valid tokens per sequence, in batch order; None means all full.
        module: the layer, to read `batch_first` and `directions` from.
        batch_first: the layout of a padded `out`, when no module is given.
        directions: 1 or 2, when no module is given.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> from torch.nn.utils.rnn import pack_padded_sequence
        >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        >>> x = torch.randn(3, 6, 3)
        >>> packed = pack_padded_sequence(x, [6, 2, 4], batch_first=True, enforce_sorted=False)
        >>> out, (h_n, c_n) = lstm(packed)
        >>> final = bh.final_representation(h_n, module=lstm)
        >>> torch.equal(bh.last_outputs(out, module=lstm), final)
        True
    """
    unbatched = False
    if isinstance(out, PackedSequence):
        sizes = _resolve("last_outputs", module, directions=directions)
        padded, packed_lengths = pad_packed_sequence(out, batch_first=True)
        if lengths is not None:
            given = _lengths_tensor(lengths, padded.shape[0], padded.shape[1])
            if not torch.equal(given.cpu(), packed_lengths):
                raise ValueError(
                    f"lengths {given.tolist()} disagree with the PackedSequence's "
                    f"{packed_lengths.tolist()}; leave lengths out for packed input"
                )
        data, lengths, first = padded, packed_lengths, True
    elif isinstance(out, torch.Tensor):
        sizes = _resolve("last_outputs", module, directions=directions)
        if out.dim() == 2:  # unbatched: token (direction hidden)
            if lengths is not None:
                raise ValueError(
                    f"got lengths for an unbatched out of shape {_shape(out)}; "
                    "lengths apply to batched (3-D) outputs only"
                )
            data, first, unbatched = out.unsqueeze(0), True, True
        elif out.dim() == 3:
            first = bool(_resolve("last_outputs", module, batch_first=batch_first)["batch_first"])
            data = out
        else:
            raise ValueError(
                "last_outputs expected out as batch token (direction hidden), "
                "token batch (direction hidden) or unbatched token (direction hidden), "
                f"got shape {_shape(out)}"
            )
    else:
        raise TypeError(
            f"last_outputs expected a tensor or PackedSequence, got {type(out).__qualname__}"
        )
    if not first:
        data = data.transpose(0, 1)
    batch, tokens = data.shape[0], data.shape[1]
    d = int(sizes["directions"])
    hidden = int(_resolve("last_outputs", module, hidden=None)["hidden"]) if module else None
    if data.shape[-1] % d or (hidden is not None and data.shape[-1] != d * hidden):
        plain = out.data if isinstance(out, PackedSequence) else out
        h_n_like = hidden is not None and plain.dim() == 3 and plain.shape[-1] == hidden
        raise ValueError(
            "cannot split directions: expected ... (direction hidden) = "
            f"(..., ({d} {hidden if hidden is not None else '?'})), got shape {_shape(plain)}."
            + (" Is it h_n? final_representation() reads h_n." if h_n_like else "")
        )
    if tokens == 0:
        raise ValueError(f"expected at least one token, got shape {_shape(data)}")
    per_dir = einops.rearrange(data, "b t (direction h) -> b t direction h", direction=d)
    if lengths is None:
        forward = per_dir[:, -1, 0]
    else:
        index = _lengths_tensor(lengths, batch, tokens).to(device=data.device, dtype=torch.long) - 1
        forward = per_dir[torch.arange(batch, device=data.device), index, 0]
    halves = [forward] if d == 1 else [forward, per_dir[:, 0, 1]]
    result = torch.cat(halves, dim=-1)
    return result[0] if unbatched else result
