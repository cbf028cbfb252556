"""The user's line: the first frame of the stack outside this package and the libraries
it runs inside (torch, einops), for the `stacklevel` of a warning.

Examples:
    >>> callers_level() >= 1
    True
"""

from __future__ import annotations

import os
import sys

import einops
import torch

__all__ = ["INTERNAL", "callers_level"]

# the folders whose frames are never the user's line: ours (every floor), torch's, einops'
INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (os.path.dirname(__file__), torch.__file__, einops.__file__)
)


def callers_level() -> int:
    """The `stacklevel` of the first frame outside `INTERNAL`: the line of user code
    that called the model, or made the op."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(INTERNAL):
        frame, level = frame.f_back, level + 1
    return level
