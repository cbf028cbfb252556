"""How a tensor's dtype and device are written: `float32`, `float32 cpu`.

Examples:
    >>> import torch
    >>> dtype_name(torch.bfloat16), dtype_and_device(torch.zeros(2))
    ('bfloat16', 'float32 cpu')
"""

from __future__ import annotations

import torch

__all__ = ["dtype_and_device", "dtype_name"]


def dtype_name(dtype: torch.dtype) -> str:
    """`float32`: the dtype without torch's prefix."""
    return str(dtype).removeprefix("torch.")


def dtype_and_device(tensor: torch.Tensor) -> str:
    """`float32 cpu`, `float16 cuda:0`."""
    return f"{dtype_name(tensor.dtype)} {tensor.device}"
