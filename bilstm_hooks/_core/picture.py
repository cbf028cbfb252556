"""Diagram: an SVG picture, as `Record.diagram()` returns it (drawn by the display floor).

Examples:
    >>> picture = Diagram("<svg xmlns='http://www.w3.org/2000/svg'/>", "a call")
    >>> picture
    <Diagram: a call>
    >>> print(picture)  # a terminal gets a line, not the SVG text
    <Diagram: a call> SVG: Jupyter shows it; .save("call.svg") writes it; .svg is the text
    >>> picture.svg == picture._repr_svg_()
    True
"""

from __future__ import annotations

import os

__all__ = ["Diagram"]


class Diagram:
    """An SVG picture of one recorded call: layers x tokens x directions, per sequence.

    Shown inline by Jupyter; `.svg` is the SVG text, `save(path)` writes it to a
    `.svg` file. `print()` in a terminal gives one line saying so, not the SVG.
    """

    def __init__(self, svg: str, title: str) -> None:
        self.svg = svg
        self.title = title

    def _repr_svg_(self) -> str:
        return self.svg

    def __str__(self) -> str:
        return f'{self!r} SVG: Jupyter shows it; .save("call.svg") writes it; .svg is the text'

    def __repr__(self) -> str:
        return f"<Diagram: {self.title}>"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the SVG to `path` (a name ending in `.svg`).

        Raises:
            TypeError: `path` is not a str or `os.PathLike` of a str (bytes are not).
            ValueError: `path` does not end in `.svg`.
        """
        name = os.fspath(path) if isinstance(path, str | os.PathLike) else None
        if not isinstance(name, str):
            raise TypeError(f"expected path as a str or os.PathLike, got {path!r}")
        if not name.lower().endswith(".svg"):
            raise ValueError(
                f"Diagram.save writes SVG; expected a path ending in .svg, got {name!r}"
            )
        with open(path, "w", encoding="utf-8") as file:
            file.write(self.svg)
