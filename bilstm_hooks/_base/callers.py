"""The user's line: the first frame of the stack outside this package and the libraries
it runs inside (torch, einops), for the `stacklevel` of a warning.

Examples:
    >>> callers_level() >= 1
    True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from types import CodeType, FrameType, TracebackType

import einops
import torch

__all__ = [
    "INTERNAL", "callers_level", "hide_frames", "holder_frame", "holder_level", "local_names",
    "user_frame",
]  # fmt: skip

# the folders whose frames are never the user's line: ours (every floor), torch's, einops'
INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (os.path.dirname(__file__), torch.__file__, einops.__file__)
)


def callers_level() -> int:
    """The `stacklevel` of the first frame outside `INTERNAL`: the line of user code
    that called the model, or made the op (the outermost frame's, if none is)."""
    frame, level = _user_line(sys._getframe(1), 1)
    return level if frame is not None else level - 1


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The first frame from `frame` outwards outside `INTERNAL`: the user's line."""
    return _user_line(frame, 0)[0]


def local_names(frame: FrameType | None, values: Iterable[object]) -> dict[int, str]:
    """`id(value) -> name` for each of `values` held by a local variable of `frame`
    (`self.<attribute>` where a module's forward holds it as an attribute): the
    names an error note calls the operands by. Read only when an error is explained."""
    wanted = {id(value) for value in values}
    found: dict[int, str] = {}
    if frame is None:
        return found
    for name, value in frame.f_locals.items():
        if id(value) in wanted and id(value) not in found and not name.startswith("."):
            found[id(value)] = name
    return found


def hide_frames(traceback: TracebackType | None, codes: tuple[CodeType, ...]) -> None:
    """Unlink, in place, the entries of `traceback` (never its first) whose frame runs one
    of `codes`: the library's frame that ran a user's failing op leaves the traceback, whose
    last line is then the user's, as it is without the library."""
    entry = traceback
    while entry is not None and entry.tb_next is not None:
        following = entry.tb_next
        if following.tb_frame.f_code in codes:
            entry.tb_next = following.tb_next
        else:
            entry = following


def holder_level(value: object) -> int:
    """The `stacklevel` of the outermost frame of user code, among the run of frames from
    the user's line outwards whose locals hold `value`: where a state handed down through
    several forwards came in (the training loop, the seq2seq forward), for a warning."""
    return _holder(value, sys._getframe(1))[1]


def holder_frame(value: object) -> FrameType | None:
    """The frame `holder_level` counts to: whose locals name `value` in a message."""
    return _holder(value, sys._getframe(1))[0]


def _holder(value: object, frame: FrameType) -> tuple[FrameType | None, int]:
    found, level = _user_line(frame, 1)
    if found is None:  # all of it is ours, torch's or einops': the outermost frame's level
        return None, level - 1
    outer, outer_level = _user_line(found.f_back, level + 1)
    while outer is not None and any(held is value for held in outer.f_locals.values()):
        found, level = outer, outer_level
        outer, outer_level = _user_line(found.f_back, level + 1)
    return found, level


def _user_line(frame: FrameType | None, level: int) -> tuple[FrameType | None, int]:
    """The first frame from `frame` outwards outside `INTERNAL` (None: there is none), and
    `level` counted up by one for each frame passed on the way."""
    while frame is not None and frame.f_code.co_filename.startswith(INTERNAL):
        frame, level = frame.f_back, level + 1
    return frame, level
