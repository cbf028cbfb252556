"""What the helpers are told about a padded `out`: its lengths and which axis is batch.

Every check here validates and never guesses: a mask is not lengths, a float is not
a length, and an `out` whose batch axis cannot be told from an explicit `batch_first`,
its lengths or its annotation is refused with the keyword that settles it.
"""

from __future__ import annotations

import torch

from .sizes import value_text

__all__ = ["as_lengths", "batch_first_of", "check_batch_first", "check_lengths"]

_INT_DTYPES = frozenset(
    {
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.uint16,
        torch.uint32,
        torch.uint64,
    }
)
_MASK_HINT = (
    "; a (batch, token) padding mask gives lengths as mask.sum(1) (True or 1 at valid tokens)"
)


def check_batch_first(what: str, batch_first: object) -> bool | None:
    """`batch_first` as given (None, True or False); anything else is a TypeError."""
    if batch_first is None or isinstance(batch_first, bool):
        return batch_first
    raise TypeError(
        f"{what}: expected batch_first to be True or False, got {value_text(batch_first)}"
    )


def as_lengths(what: str, lengths: object) -> torch.Tensor:
    """`lengths` as a 1-D int64 tensor on its own device; its values are checked later.

    Accepts an integer tensor (any device but meta) or a sequence of ints. Bools and
    bool tensors are refused as masks, floats and complex numbers as not counts.
    """
    if isinstance(lengths, torch.Tensor):
        tensor = lengths
    else:
        if isinstance(lengths, (str, bytes)):
            raise TypeError(
                f"{what}: expected lengths as a 1-D int tensor or a sequence of ints, got "
                f"{value_text(lengths)}"
            )
        if isinstance(lengths, (list, tuple)) and any(isinstance(n, bool) for n in lengths):
            raise ValueError(
                f"{what}: expected lengths as ints, one per batch row, got bools, which look "
                f"like a mask{_MASK_HINT}"
            )
        try:
            tensor = torch.as_tensor(lengths)
        except Exception as exc:  # torch says TypeError, ValueError or RuntimeError
            raise TypeError(
                f"{what}: expected lengths as a 1-D int tensor or a sequence of ints, got "
                f"{value_text(lengths)}"
            ) from exc
        if tensor.numel() == 0:  # torch.as_tensor([]) is float32
            tensor = tensor.to(torch.int64)
    if tensor.layout != torch.strided:
        raise TypeError(
            f"{what}: expected lengths as a dense tensor, got a {tensor.layout} tensor; "
            "pass lengths.to_dense()"
        )
    shape = tuple(tensor.shape)
    if tensor.dtype == torch.bool:
        raise ValueError(
            f"{what}: expected lengths as ints, one per batch row, got a bool tensor of shape "
            f"{shape}, which looks like a mask{_MASK_HINT}"
        )
    if tensor.dtype not in _INT_DTYPES:
        fix = (
            "; pass lengths.long() if they hold whole numbers" if tensor.is_floating_point() else ""
        )
        raise ValueError(
            f"{what}: expected lengths as ints, one per batch row, got {tensor.dtype} of shape "
            f"{shape}{fix}"
        )
    if tensor.dim() != 1:
        raise ValueError(
            f"{what}: expected lengths as a 1-D tensor (one int per batch row), got shape "
            f"{shape}" + (_MASK_HINT if tensor.dim() == 2 else "")
        )
    if tensor.device.type == "meta":
        raise ValueError(
            f"{what}: expected lengths with values, got lengths on the meta device, which "
            "have none; pass them on the cpu or on the tensor's device"
        )
    return tensor.to(torch.int64)


def check_lengths(
    what: str, lengths: torch.Tensor, batch: int, tokens: int, shape: tuple[int, ...]
) -> None:
    """`lengths` (from `as_lengths`) has one length in [1, tokens] per batch row."""
    if lengths.shape[0] != batch:
        raise ValueError(
            f"{what}: expected {batch} lengths (one per batch row of out of shape {shape}), "
            f"got {lengths.shape[0]}"
        )
    if batch:
        low, high = torch.stack((lengths.min(), lengths.max())).tolist()  # one sync
        if low < 1 or high > tokens:
            raise ValueError(
                f"{what}: expected every length in [1, {tokens}] (the token axis), got "
                f"min {low}, max {high}"
            )


def batch_first_of(
    what: str,
    out: torch.Tensor,
    lengths: torch.Tensor | None,
    batch_first: bool | None,
    module_batch_first: bool | None,
) -> bool:
    """Whether a 3-D padded `out` is `batch token ...` (True) or `token batch ...` (False).

    An explicit `batch_first` wins. Otherwise the lengths pin the batch axis: the one
    of axes 0 and 1 whose size is `len(lengths)`, whatever the module's `batch_first`
    (`pad_packed_sequence` is time-major by default). When both axes fit, the tensor's
    own annotation decides, if the registry has one. Without lengths: the module's.
    """
    if batch_first is not None:
        return batch_first
    shape = tuple(out.shape)
    if lengths is None:
        if module_batch_first is None:
            raise TypeError(
                f"{what} needs to know batch_first: expected module=<the recurrent layer> "
                "or batch_first=True/False, got neither"
            )
        return module_batch_first
    count = lengths.shape[0]
    fits = [axis == 0 for axis in (0, 1) if shape[axis] == count]
    annotated = _annotated_batch_first(out)
    if not fits:
        raise ValueError(
            f"{what}: expected one length per batch row, got {count} lengths for out of "
            f"shape {shape}: neither axis 0 (batch_first=True) nor axis 1 "
            f"(batch_first=False) has size {count}"
        )
    if len(fits) == 1 and annotated is not None and annotated != fits[0]:
        axis = 0 if annotated else 1
        raise ValueError(
            f"{what}: expected {shape[axis]} lengths (one per batch row: out is annotated "
            f"{'batch token' if annotated else 'token batch'} ...), got {count}"
        )
    if len(fits) == 1:
        return fits[0]
    if annotated is not None:
        return annotated
    raise ValueError(
        f"{what}: the layout of out of shape {shape} is ambiguous with {count} lengths: "
        f"expected batch_first=True (batch token ...) or batch_first=False "
        "(token batch ...); pass batch_first= to say which (pad_packed_sequence returns "
        "token batch ... unless told batch_first=True, whatever the module's)"
    )


def _annotated_batch_first(out: torch.Tensor) -> bool | None:
    """True or False when the registry knows `out` as `batch token ...` or `token batch ...`."""
    from .._core.lookup import annotation_of  # lazily: _identity imports the record, the helpers

    annotation = annotation_of(out)
    if annotation is None or not annotation.dims:
        return None
    first = annotation.dims[0]
    return True if first == "batch" else False if first == "token" else None
