"""What a wild model's run saw, and the report of benchmarks/wild_coverage.py.

>>> counts([])
{'derived': 0, 'right': 0, 'wrong': 0, 'unnamed': 0, 'lacks': 0, 'false': 0, 'bugs': 0}
"""

from __future__ import annotations

import ast
import linecache
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.locals_coverage import Where, _one_line
from benchmarks.wild.judge import VERDICTS, Verdict, judge, lacks, parse_expected, render

ROOT = Path(__file__).resolve().parents[2]


# -- what was seen -----------------------------------------------------------------------
@dataclass
class Local:
    name: str
    expected: str
    shown: Any  # a Node: the value line(s), None when the local was not bound
    line: str | None  # the value line as a whole (a tuple's included)
    made: int | None = None  # the line whose run last bound it (in-process), or its def

    @property
    def verdict(self) -> Verdict:
        return judge(parse_expected(self.expected), self.shown)

    @property
    def lacks(self) -> bool:
        return lacks(parse_expected(self.expected))


@dataclass
class Warned:
    path: str
    line: int
    message: str
    on_bug: bool

    @property
    def source(self) -> str:
        return linecache.getline(self.path, self.line).strip()


@dataclass
class ModelRun:
    """One model: the locals at each stop, the warnings, the bitwise checks."""

    name: str
    wheres: list[Where]
    seen: dict[Where, list[Local]] = field(default_factory=dict)
    warned: list[Warned] = field(default_factory=list)
    other_warnings: Counter[str] = field(default_factory=Counter)
    outputs_equal: bool | None = None
    grads_equal: bool | None = None  # None: no output requires grad
    error: str | None = None

    def locals(self) -> list[Local]:
        return [local for where in self.wheres for local in self.seen.get(where, [])]

    def missed(self) -> list[Where]:
        return [w for w in self.wheres if w not in self.seen]


# -- the report --------------------------------------------------------------------------
def counts(runs: list[ModelRun]) -> dict[str, int]:
    """Derived locals by verdict, those lacking vocabulary, and warnings on correct code/bugs."""
    local_list = [local for run in runs for local in run.locals()]
    tally = Counter(local.verdict for local in local_list)
    return {
        "derived": sum(len(w.stop.expected) for run in runs for w in run.wheres),
        **{v: tally[v] for v in VERDICTS},
        "lacks": sum(local.lacks for local in local_list),
        "false": sum(not w.on_bug for run in runs for w in run.warned),
        "bugs": sum(w.on_bug for run in runs for w in run.warned),
    }


def _bitwise_cell(runs: list[ModelRun]) -> str:
    if any(run.error for run in runs):
        return "failed"
    if not all(run.outputs_equal for run in runs):
        return "OUT DIFFER"
    if any(run.grads_equal is False for run in runs):
        return "GRAD DIFFER"
    no_grad = sum(run.grads_equal is None for run in runs)
    return "yes" if not no_grad else "yes, no grad" if len(runs) == 1 else f"yes, {no_grad} no grad"


def _where_text(w: Warned) -> str:
    path = Path(w.path)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown}:{w.line}"


def statement(path: Path, line: int | None) -> str:
    """The statement that holds `line`, by its first line: `line 87: fwd = h[-1:, 0]`."""
    if line is None:
        return "?"
    starts: dict[int, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.stmt):
            body = getattr(node, "body", None)
            header_end = body[0].lineno - 1 if body else node.end_lineno or node.lineno
            for number in range(node.lineno, header_end + 1):
                starts[number] = node.lineno  # ast.walk: inner statements come later
    first = starts.get(line, line)
    text = linecache.getline(str(path), first).strip()
    return f"line {first}: {text}" + (" (an argument)" if text.startswith("def ") else "")


def report(runs: list[ModelRun], source: str, values: bool) -> list[str]:
    out = []
    if values:
        for run in runs:
            for where in run.wheres:
                out.append(f"{run.name}: {where.stop.function}, line {where.line}: "
                           f"{where.stop.line}")  # fmt: skip
                if where not in run.seen:
                    out.append("  never stopped here")
                    continue
                for local in run.seen[where]:
                    expected = local.expected + ("  [lacks]" if local.lacks else "")
                    shown = "<not bound>" if local.shown is None else render(local.shown)
                    out.append(f"  {local.verdict:7} {local.name:18} expected {expected}")
                    out.append(f"  {'':7} {'':18} shown    {_one_line(shown, 100)}")
        out.append("")
    heads = ["stops", "derived", "right", "wrong", "unnamed", "lacks", "warn", "on bugs"]
    widths = [5, 7, 11, 5, 7, 5, 4, 7]
    out.append(f"names from: {source}; warn: LayoutWarnings on correct code")
    head = " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
    out.append(f"{'model':18} {head}  bitwise")
    rows = [(run.name, [run]) for run in runs] + [("total", runs)]
    for label, group in rows:
        c = counts(group)
        share = f"{c['right']} {100 * c['right'] / c['derived']:3.0f}%" if c["derived"] else "-"
        cells = [sum(len(r.wheres) for r in group), c["derived"], share, c["wrong"],
                 c["unnamed"], c["lacks"], c["false"], c["bugs"]]  # fmt: skip
        missed = "" if all(not r.missed() for r in group) else " !"
        if label == "total":
            out.append("-" * 96)
        row = " ".join(f"{x!s:>{w}}" for x, w in zip(cells, widths, strict=True))
        out.append(f"{label:18} {row}  {_bitwise_cell(group)}{missed}")
    local_list = [local for run in runs for local in run.locals()]
    lacking = Counter(local.verdict for local in local_list if local.lacks)
    out.append(f"lacks: targets with axes the library has no name for (skip, 1, "
               f"word_rnn.token): {', '.join(f'{lacking[v]} {v}' for v in VERDICTS)}")  # fmt: skip
    if any(run.missed() for run in runs):
        out.append("! some stops were never reached: their locals count as unnamed")

    wrong = [(run, where, local) for run in runs for where in run.wheres
             for local in run.seen.get(where, []) if local.verdict == "wrong"]  # fmt: skip
    out.append(f"\nnamed wrong: {len(wrong)}")
    for run, where, local in wrong:
        out.append(f"  {run.name}:{where.line} {where.stop.function} `{where.stop.line}`")
        out.append(f"    {local.name}: expected {local.expected}; shown {render(local.shown)}")
        out.append(f"      made by {statement(where.path, local.made)}")
    false = [(run, w) for run in runs for w in run.warned if not w.on_bug]
    out.append(f"\nLayoutWarnings on correct code: {len(false)}")
    for where, count in Counter((_where_text(w), w.source, w.message) for _, w in false).items():
        out.append(f"  {where[0]} ({count}×): {where[1]}")
        out.append(f"    {_one_line(where[2], 160)}")
    bugs = [w for run in runs for w in run.warned if w.on_bug]
    if bugs:
        out.append(f"\nLayoutWarnings on known bugs: {len(bugs)}")
        for where, count in Counter((_where_text(w), w.source) for w in bugs).items():
            out.append(f"  {where[0]} ({count}×): {where[1]}")
    others = sum((run.other_warnings for run in runs), Counter())
    if others:
        out.append(f"\nother warnings: {dict(others)}")
    for run in runs:
        if run.error:
            out.append(f"\n{run.name}: failed: {run.error}")
    return out
