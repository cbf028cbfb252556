"""The lengths of a PackedSequence's sequences, read from its `batch_sizes`; the tensors of a
nested value, a PackedSequence by its data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence

__all__ = ["packed_lengths", "packed_lengths_nosync", "tensors_in"]


def packed_lengths(packed: PackedSequence) -> torch.Tensor:
    """Per-sequence lengths of a PackedSequence, in the caller's batch order."""
    lengths, in_order = packed_lengths_nosync(packed)
    if in_order:
        return lengths
    assert packed.unsorted_indices is not None  # only its device can put it out of order
    return lengths[packed.unsorted_indices.cpu()]


def packed_lengths_nosync(
    packed: PackedSequence, first: int | None = None
) -> tuple[torch.Tensor, bool]:
    """Lengths of the (`first`) sequences from `batch_sizes`, always on the CPU: no device sync.

    In the caller's batch order (True) unless that order lives on another device
    than the CPU: then longest first (False), as reading it would sync the device.
    """
    batch_sizes = packed.batch_sizes
    order = packed.unsorted_indices
    in_order = order is None or order.device.type == "cpu"
    if order is not None and in_order:
        ranks = order[:first]  # the rank of each sequence among the sorted ones
    else:
        batch = batch_sizes[:1].tolist()[0] if batch_sizes.numel() else 0
        ranks = torch.arange(batch if first is None else min(batch, first))
    # batch_sizes never increases: the sequence of rank r is longer than t iff batch_sizes[t] > r
    return torch.searchsorted(-batch_sizes, -ranks), in_order


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in a result, an output or arguments: nested tuples, lists and dicts, a
    PackedSequence by its `data` (it is a tuple: looked at first)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, PackedSequence):
        yield value.data
    elif isinstance(value, list | tuple):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)
