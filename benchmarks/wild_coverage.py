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
- expected axes the library has no vocabulary for (`skip`, prefixed
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
import json
import linecache
import sys
import time
import traceback
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks.wild, benchmarks.locals_coverage; last, so that
    sys.path.append(str(ROOT))  # an installed bilstm_hooks (or PYTHONPATH's) is the one run

import bilstm_hooks as bh  # noqa: E402
from benchmarks.locals_coverage import (  # noqa: E402
    DAPClient,
    Seen,
    Session,
    Where,
    run_session,
)
from benchmarks.wild import MODELS, WildStop, load, resolve  # noqa: E402
from benchmarks.wild.judge import Seq, render  # noqa: E402
from benchmarks.wild.report import Local, ModelRun, Warned, counts, report, statement  # noqa: E402

SEED = 0
MAX_DEPTH = 4  # of tuples and lists looked into


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
                                "made": statement(where.path, local.made),
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
        c = counts(runs)
        if 100 * c["right"] < args.require * c["derived"] or c["wrong"] or c["false"]:
            print(f"\nbelow --require {args.require:g}%, or named wrong, or false warnings")
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
