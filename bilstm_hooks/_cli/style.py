"""How the command writes: ANSI colour only on a terminal, ASCII where Unicode cannot go."""

from __future__ import annotations

import os
from typing import TextIO

__all__ = ["Style"]

_ASCII = str.maketrans({"·": ".", "×": "x", "→": "->", "←": "<-"})


class Style:
    """ANSI colour only on a terminal (and no NO_COLOR, no --no-color); ASCII if need be."""

    def __init__(self, stream: TextIO, *, no_color: bool) -> None:
        isatty = getattr(stream, "isatty", None)
        self.color = not no_color and not os.environ.get("NO_COLOR") and bool(isatty and isatty())
        encoding = getattr(stream, "encoding", None)  # None: a text buffer, anything goes
        try:
            "✓✗├─│└·×→←".encode(encoding or "utf-8")
            self.unicode = True
        except (UnicodeEncodeError, LookupError):
            self.unicode = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def heading(self, text: str) -> str:
        return self._sgr("1;36", text)

    def code(self, text: str) -> str:
        return self._sgr("33", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def ok(self, text: str = "") -> str:
        return self._sgr("32", ("✓" if self.unicode else "ok") + (f" {text}" if text else ""))

    def bad(self, text: str = "") -> str:
        return self._sgr("31", ("✗" if self.unicode else "X ") + (f" {text}" if text else ""))

    def plain(self, text: str) -> str:
        if self.unicode:
            return text
        return text.translate(_ASCII)
