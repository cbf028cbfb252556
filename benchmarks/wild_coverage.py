"""Are the names bilstm_hooks shows for the wild models' locals the right ones? And quiet?

Runs each model of benchmarks/wild/ (small replicas of public models, whose `STOPS` give,
for every local derived from a recurrent layer's outputs, the name a perfect tool would
show, written before the library ran on them) hooked with `bh.attach_hooks(model,
follow=True)`, stops at each stop's line (the first time it is reached, before the line
runs, as a debugger does), and compares what the library shows for each derived local
with the expected name. It also counts the `bh.LayoutWarning`s of that forward, and checks
that following changes nothing: the outputs of a hooked and an unhooked build of the same
seed are bitwise equal, and so are the parameters' gradients of a scalar made from the
outputs (where some require grad).

    .venv/bin/python benchmarks/wild_coverage.py             # in-process, ~10 s
    .venv/bin/python benchmarks/wild_coverage.py --values    # and every local's verdict
    .venv/bin/python benchmarks/wild_coverage.py --debugpy   # names from a debugpy session
    .venv/bin/python benchmarks/wild_coverage.py --require 90

Where the shown names come from:

- in-process (default): a `sys.settrace` line event at each stop reads the frame's locals
  and takes `bh.describe(value)` of each derived local, of each item for a tuple or list;
- `--debugpy`: one debugpy session (benchmarks/locals_coverage.py's machinery, over the
  Debug Adapter Protocol) reads the value line of each local in the variables pane, and
  of each child of a tuple or list (as a user expanding it sees them). Warnings and the
  bitwise checks still come from the in-process run.

The comparison rule:

- a shown name is the axis pattern that starts a value line, up to the first ` · `, with
  the sizes dropped: `batch=3 token=6 (direction=2 hidden=4) · out · ...` shows
  `batch token (direction hidden)`. A value line with no axis name followed by `=` (a
  tensor's shape line, a PackedSequence's) shows no name.
- "named right" when that name equals the expected one, whitespace normalised. Two
  spellings count as the same because they denote the same axes in the same order: the
  library's `()`, einops' unit axis, for the expected `1` (a kept axis of size one), and a
  group of one axis, `(hidden)`, for that axis. Anything else that differs, an axis
  dropped or renamed, `batch (direction hidden)` for `batch (layer direction hidden)`,
  `() batch hidden` for `layer batch hidden`, is wrong. Sizes are not compared.
- "named wrong" when a name is shown and differs; "unnamed" when none is shown.
- a tuple or list (expected `(a, b)`, `[a, b]`, `[a × 3]`) is right when it has the
  expected kind and length and each item is right; wrong when any item is wrong (or the
  structure differs while something is named); unnamed otherwise, partly named included.
- expected axes the library has no vocabulary for (`step`, `skip`, prefixed
  `word_rnn.token`; `1` too, but for the `()` above) count as they come: a differing name
  is wrong, none is unnamed. Column "lacks" says how many locals have such a target, so
  that the reader can tell those apart.

A `LayoutWarning` is "on a bug" when its line, or the comment lines just above it, say
`KNOWN BUG` in the model's source; any other is a warning on correct code.

Exit status: 1 when a model failed, a stop was never reached, the debugpy session
failed, or following changed an output or gradient; else 2 when --require P is given and
the total named-right share is under P percent, or any local is named wrong, or any
warning fell on correct code; else 0.
"""

from __future__ import annotations

import argparse
import ast
import json
import linecache
import re
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import torch
from torch.nn.utils.rnn import PackedSequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks.wild, benchmarks.locals_coverage

import bilstm_hooks as bh  # noqa: E402
from benchmarks.locals_coverage import (  # noqa: E402
    NAMED,
    DAPClient,
    Seen,
    Session,
    Where,
    _one_line,
    run_session,
)
from benchmarks.wild import MODELS, WildStop, load, resolve  # noqa: E402

LIBRARY_AXES = frozenset({"batch", "token", "layer", "direction", "hidden", "feature"})
VERDICTS = ("right", "wrong", "unnamed")
Verdict = Literal["right", "wrong", "unnamed"]
SEED = 0
MAX_DEPTH = 4  # of tuples and lists looked into


# -- names: expected, shown, and the comparison ------------------------------------------
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


def _is_bug_line(path: str, line: int) -> bool:
    """`KNOWN BUG` on the line, or in the comment lines right above it."""
    if "KNOWN BUG" in linecache.getline(path, line):
        return True
    for above in range(line - 1, 0, -1):
        text = linecache.getline(path, above).strip()
        if not text.startswith("#"):
            return False
        if "KNOWN BUG" in text:
            return True
    return False


def _value_node(value: object, depth: int = 0) -> Any:
    if type(value) in (tuple, list) and depth < MAX_DEPTH:
        items = tuple(_value_node(item, depth + 1) for item in value)  # type: ignore[attr-defined]
        return Seq(type(value).__name__, items)
    return bh.describe(value)


# -- in-process --------------------------------------------------------------------------
def _flatten(obj: object) -> list[object]:
    """The leaves of a forward's result: tensors, and anything else by value."""
    if isinstance(obj, PackedSequence):
        return [obj.data, obj.batch_sizes, obj.sorted_indices, obj.unsorted_indices]
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in _flatten(item)]
    if isinstance(obj, dict):
        return [leaf for key in sorted(obj) for leaf in _flatten(obj[key])]
    return [obj]


def _same_bits(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        a, b = a.detach().contiguous(), b.detach().contiguous()
        return a.numel() == 0 or torch.equal(a.view(torch.uint8), b.view(torch.uint8))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return False
    return bool(a == b) if a is not None else b is None


def _scalar(result: object) -> torch.Tensor | None:
    """A scalar of every floating output that requires grad, each position weighted."""
    total = None
    for leaf in _flatten(result):
        if isinstance(leaf, torch.Tensor) and leaf.requires_grad and leaf.is_floating_point():
            weights = torch.linspace(-1, 1, leaf.numel(), dtype=leaf.dtype).view(leaf.shape)
            term = (leaf * weights).sum()
            total = term if total is None else total + term
    return total


def _forward(module: Any, *, follow: bool, trace: Any = None) -> tuple[Any, Any, Any]:
    """Build the model with SEED, hook it when `follow`, run one forward (traced)."""
    torch.manual_seed(SEED)
    model, inputs = module.make()
    recorder = bh.attach_hooks(model, follow=True) if follow else None
    torch.manual_seed(SEED + 1)  # dropout, the same draws for both builds
    if trace is not None:
        sys.settrace(trace)
    try:
        result = model(*inputs)
    finally:
        if trace is not None:
            sys.settrace(None)
    return model, result, recorder


def run_model(name: str, wheres: list[Where]) -> ModelRun:
    run = ModelRun(name, wheres)
    module = load(name)
    stops = {(str(w.path), w.line): w for w in wheres}
    files = {str(w.path) for w in wheres}

    # per running frame: the line last run, each local's id then, and where each was bound
    last: dict[FrameType, tuple[int, dict[str, int]]] = {}
    made: dict[FrameType, dict[str, int]] = {}

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if event == "call":
            return trace if frame.f_code.co_filename in files else None
        if event == "return":
            last.pop(frame, None)
            made.pop(frame, None)
        if event != "line":
            return trace
        found = frame.f_locals
        ids = {local: id(value) for local, value in found.items()}
        bound = made.setdefault(frame, dict.fromkeys(ids, frame.f_code.co_firstlineno))
        if frame in last:
            line, before = last[frame]
            bound |= {local: line for local, i in ids.items() if before.get(local) != i}
        last[frame] = (frame.f_lineno, ids)
        where = stops.get((frame.f_code.co_filename, frame.f_lineno))
        if where is not None and where not in run.seen:
            run.seen[where] = [
                Local(
                    local,
                    expected,
                    _value_node(found[local]) if local in found else None,
                    bh.describe(found[local]) if local in found else None,
                    bound.get(local),
                )
                for local, expected in where.stop.expected.items()
            ]
        return trace

    try:
        plain, plain_result, _ = _forward(module, follow=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hooked, hooked_result, recorder = _forward(module, follow=True, trace=trace)
        for w in caught:
            if issubclass(w.category, bh.LayoutWarning):
                bug = _is_bug_line(w.filename, w.lineno)
                run.warned.append(Warned(w.filename, w.lineno, str(w.message), bug))
            else:
                run.other_warnings[w.category.__name__] += 1
        a, b = _flatten(plain_result), _flatten(hooked_result)
        run.outputs_equal = len(a) == len(b) and all(map(_same_bits, a, b))
        scalars = _scalar(plain_result), _scalar(hooked_result)
        if scalars[0] is not None and scalars[1] is not None:
            scalars[0].backward()
            scalars[1].backward()
            grads = [
                (p.grad, q.grad)
                for p, q in zip(plain.parameters(), hooked.parameters(), strict=True)
            ]
            run.grads_equal = all(
                (g is None and h is None) or (g is not None and h is not None and _same_bits(g, h))
                for g, h in grads
            )
        elif (scalars[0] is None) != (scalars[1] is None):
            run.grads_equal = False
        recorder.remove()
    except Exception as exc:  # reported; the next model still runs
        run.error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return run


# -- debugpy -----------------------------------------------------------------------------
def _expand(client: DAPClient, variable: dict[str, Any], depth: int = 0) -> Any:
    """A pane variable as a Node: a tuple's or list's children read as the pane shows them."""
    reference = variable.get("variablesReference", 0)
    if variable.get("type") not in ("tuple", "list") or not reference or depth >= MAX_DEPTH:
        return str(variable.get("value", ""))
    children = client.request("variables", variablesReference=reference)["variables"]
    items = sorted((int(c["name"]), c) for c in children if str(c["name"]).isdigit())
    return Seq(variable["type"], tuple(_expand(client, c, depth + 1) for _, c in items))


def _on_stop(client: DAPClient, seen: Seen) -> None:
    for name in seen.where.stop.derived:
        variable = seen.variables.get(name)
        if variable is not None:
            variable["node"] = _expand(client, variable)


def debugpy_locals(
    session: Session, where: Where, made: dict[str, int | None]
) -> list[Local] | None:
    seen = session.seen.get(where)
    if seen is None:
        return None
    found = []
    for local, expected in where.stop.expected.items():
        variable = seen.variables.get(local)
        node = None if variable is None else variable.get("node")
        line = None if variable is None else str(variable.get("value", ""))
        found.append(Local(local, expected, node, line, made.get(local)))
    return found


# -- the report --------------------------------------------------------------------------
def _counts(runs: list[ModelRun]) -> dict[str, int]:
    local_list = [local for run in runs for local in run.locals()]
    counts = Counter(local.verdict for local in local_list)
    return {
        "derived": sum(len(w.stop.expected) for run in runs for w in run.wheres),
        **{v: counts[v] for v in VERDICTS},
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


def _statement(path: Path, line: int | None) -> str:
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
        c = _counts(group)
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
    out.append(f"lacks: targets with axes the library has no name for (step, skip, 1, "
               f"word_rnn.token): {', '.join(f'{lacking[v]} {v}' for v in VERDICTS)}")  # fmt: skip
    if any(run.missed() for run in runs):
        out.append("! some stops were never reached: their locals count as unnamed")

    wrong = [(run, where, local) for run in runs for where in run.wheres
             for local in run.seen.get(where, []) if local.verdict == "wrong"]  # fmt: skip
    out.append(f"\nnamed wrong: {len(wrong)}")
    for run, where, local in wrong:
        out.append(f"  {run.name}:{where.line} {where.stop.function} `{where.stop.line}`")
        out.append(f"    {local.name}: expected {local.expected}; shown {render(local.shown)}")
        out.append(f"      made by {_statement(where.path, local.made)}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--values", action="store_true", help="print every local's verdict")
    parser.add_argument("--debugpy", action="store_true", help="names from a debugpy session")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="with --debugpy: the debuggee's interpreter (torch and debugpy installed)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--require",
        type=float,
        default=None,
        metavar="PERCENT",
        help="exit 2 unless this share is named right, none wrong, no false warning",
    )
    args = parser.parse_args(argv)

    start = time.monotonic()
    runs = []
    for name in args.models:
        module = load(name)
        stops: tuple[WildStop, ...] = module.STOPS
        wheres = [Where(name, stop, *resolve(module, stop)) for stop in stops]
        runs.append(run_model(name, wheres))
    status = 1 if any(r.error or r.missed() or r.outputs_equal is False
                      or r.grads_equal is False for r in runs) else 0  # fmt: skip
    source = f"in-process describe(), {time.monotonic() - start:.1f} s"

    in_process = {id(run): dict(run.seen) for run in runs}
    if args.debugpy:
        wheres = [w for run in runs for w in run.wheres]
        session = run_session("follow", wheres, args.python, None,
                              package="benchmarks.wild", on_stop=_on_stop)  # fmt: skip
        source = f"a debugpy session, {session.seconds:.1f} s"
        if session.error or session.unsupported:
            status = 1
            print(f"debugpy session: {session.error or session.unsupported}")
            for text in session.log.splitlines()[-15:]:
                print("    " + text)
        for run in runs:
            run.seen = {}
            for where in run.wheres:
                made = {a.name: a.made for a in in_process[id(run)].get(where, [])}
                found = debugpy_locals(session, where, made)
                if found is not None:
                    run.seen[where] = found
            status = max(status, 1 if run.missed() else 0)

    print("\n".join(report(runs, source, args.values)))
    if args.debugpy:  # the two readings should agree
        differ = [
            f"  {run.name}:{where.line} {a.name}: in-process {render(a.shown)}; "
            f"debugpy {render(b.shown)}"
            for run in runs
            for where in run.wheres
            for a, b in zip(
                in_process[id(run)].get(where, []), run.seen.get(where, []), strict=False
            )
            if render(a.shown) != render(b.shown)
        ]
        print(f"\nin-process and debugpy names differ: {len(differ)}", *differ, sep="\n")

    if args.json is not None:
        results = [
            {
                "model": run.name,
                "error": run.error,
                "outputs_equal": run.outputs_equal,
                "grads_equal": run.grads_equal,
                "warnings": [vars(w) | {"source": w.source} for w in run.warned],
                "stops": [
                    {
                        "function": where.stop.function,
                        "line": where.line,
                        "locals": {
                            local.name: {
                                "expected": local.expected,
                                "shown": None if local.shown is None else render(local.shown),
                                "value": local.line,
                                "verdict": local.verdict,
                                "lacks": local.lacks,
                                "made": _statement(where.path, local.made),
                            }
                            for local in run.seen.get(where, [])
                        },
                    }
                    for where in run.wheres
                ],
            }
            for run in runs
        ]
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")

    if args.require is not None and status == 0:
        c = _counts(runs)
        if 100 * c["right"] < args.require * c["derived"] or c["wrong"] or c["false"]:
            print(f"\nbelow --require {args.require:g}%, or named wrong, or false warnings")
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
