"""How a shown name is judged against the expected one (benchmarks/wild_coverage.py's rule).

>>> judge("batch 1 hidden", "batch=2 () hidden=4 · encoder.h_n · float32 cpu")
'right'
>>> judge("(a, b)", Seq("tuple", ("a=1 · x", None)))
'unnamed'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.locals_coverage import NAMED

LIBRARY_AXES = frozenset({"batch", "token", "layer", "direction", "hidden", "feature", "step"})
VERDICTS = ("right", "wrong", "unnamed")
Verdict = Literal["right", "wrong", "unnamed"]


@dataclass(frozen=True)
class Seq:
    """A tuple or list: expected (items are names) or shown (items are value lines)."""

    kind: str  # "tuple" or "list"
    items: tuple[Any, ...]  # names or value lines (None: not bound), or Seqs


_DEPTH = {"(": 1, "[": 1, ")": -1, "]": -1}
_TOKEN = re.compile(r"\(\)|\(|\)|[^\s()]+")


def _split_top(text: str) -> list[str]:
    """`text` split at its commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += _DEPTH.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _closing(text: str) -> int:
    """The index of the bracket that closes text[0]."""
    depth = 0
    for i, char in enumerate(text):
        depth += _DEPTH.get(char, 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced brackets in {text!r}")


def parse_expected(text: str) -> str | Seq:
    """An expected name: `a b`, `(a, b)`, `[a, b]`, `[a × 3]`, nested."""
    text = text.strip()
    if text[:1] in "([" and _closing(text) == len(text) - 1:
        inner = _split_top(text[1:-1])
        if text[0] == "[" or len(inner) > 1:
            items: list[str | Seq] = []
            for part in inner:
                match = re.fullmatch(r"(.*?)\s*×\s*(\d+)", part.strip())
                item, times = (match[1], int(match[2])) if match else (part, 1)
                items += [parse_expected(item)] * times
            return Seq("list" if text[0] == "[" else "tuple", tuple(items))
    return text


def canonical(name: str) -> tuple[str, ...]:
    """A name's tokens, `()` read as `1` and a group of one axis as that axis."""
    tokens = ["1" if t == "()" else t for t in _TOKEN.findall(name)]
    out: list[str] = []
    for token in tokens:
        out.append(token)
        if token == ")" and len(out) >= 3 and out[-3] == "(" and out[-2] not in ("(", ")"):
            out[-3:] = [out[-2]]
    return tuple(out)


def shown_name(line: str | None) -> str | None:
    """The name a value line shows: its leading pattern without sizes; None if unnamed."""
    if line is None:
        return None
    pattern = line.split(" · ", 1)[0]
    if not NAMED.search(pattern):
        return None
    return _join(_TOKEN.findall(re.sub(r"=\d+", "", pattern)))


def _join(tokens: list[str]) -> str:
    """Tokens as a name: `batch (direction hidden)`."""
    text = ""
    for token in tokens:
        glued = not text or text.endswith("(") or token == ")"
        text += token if glued else " " + token
    return text


def render(node: Any, *, expected: bool = False) -> str:
    """A node as a name: a shown one by its names (`—` for none), or an expected one."""
    if isinstance(node, Seq):
        inner = ", ".join(render(item, expected=expected) for item in node.items)
        return f"({inner})" if node.kind == "tuple" else f"[{inner}]"
    if expected:
        return str(node)
    name = shown_name(node)
    return "—" if name is None else name


def _any_named(node: Any) -> bool:
    if isinstance(node, Seq):
        return any(_any_named(item) for item in node.items)
    return shown_name(node) is not None


def judge(expected: str | Seq, shown: Any) -> Verdict:
    """The verdict for a shown node against an expected name (the rule: module docstring)."""
    if isinstance(expected, Seq):
        if (
            not isinstance(shown, Seq)
            or shown.kind != expected.kind
            or len(shown.items) != len(expected.items)
        ):
            return "wrong" if _any_named(shown) else "unnamed"
        verdicts = [judge(e, s) for e, s in zip(expected.items, shown.items, strict=True)]
        if "wrong" in verdicts:
            return "wrong"
        return "right" if all(v == "right" for v in verdicts) else "unnamed"
    if isinstance(shown, Seq):
        return "wrong" if _any_named(shown) else "unnamed"
    name = shown_name(shown)
    if name is None:
        return "unnamed"
    return "right" if canonical(name) == canonical(expected) else "wrong"


def lacks(expected: str | Seq) -> bool:
    """Whether the expected name has an axis the library has no name for (`1` included)."""
    if isinstance(expected, Seq):
        return any(lacks(item) for item in expected.items)
    return any(t not in LIBRARY_AXES | {"(", ")"} for t in canonical(expected))
