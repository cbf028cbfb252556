"""A tensor's geometry: its shape, strides and storage offset, all a view is named from.

Examples:
    >>> import torch
    >>> geometry_of(torch.zeros(2, 3).t())
    ((3, 2), (1, 3), 0)
    >>> logical((2, 3))
    ((2, 3), (3, 1), 0)
"""

from __future__ import annotations

import torch

__all__ = ["Geometry", "geometry_of", "logical"]

Geometry = tuple[tuple[int, ...], tuple[int, ...], int]
"""`(shape, strides, storage_offset)` of a tensor, in elements."""


def geometry_of(tensor: torch.Tensor) -> Geometry:
    """The shape, strides and storage offset of `tensor`: metadata, no data read."""
    return tuple(tensor.shape), tuple(tensor.stride()), int(tensor.storage_offset())


def logical(shape: tuple[int, ...]) -> Geometry:
    """The geometry of a contiguous tensor of `shape` (for reshape, view, flatten)."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(shape), tuple(reversed(strides)), 0
