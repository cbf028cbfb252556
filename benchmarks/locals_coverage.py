"""How many of the locals a user holds show named dims in a real debugger? Issue 10's measure.

Runs each model of benchmarks/models/ (small versions of public models that use
nn.LSTM, nn.GRU or nn.RNN) under debugpy, VS Code's debugger, over the Debug Adapter
Protocol (tests/dap_client.py), hooked with `bh.attach_hooks(model)` and then with
`bh.attach_hooks(model, follow=True)`. It stops at each of the model's `STOPS` (the end of
a forward, sometimes a line before; the first time each is reached), asks for the frame's
locals as the variables pane does, and reads the value line of every local that the model
lists as derived from a recurrent layer's outputs.

A local shows named dims when its value line holds an axis name of bilstm_hooks followed
by `=` (`batch=3 token=6 (direction=2 hidden=4) · encoder.out · ...`, or a position kept
from an indexed-away axis, `layer=1`). Anything else, a tensor's repr or a tuple's, does
not. Where `attach_hooks` has no `follow` yet (TypeError), that column says n/a.

    .venv/bin/python benchmarks/locals_coverage.py              # the table, ~30 s on 2 cores
    .venv/bin/python benchmarks/locals_coverage.py --values     # and every value line
    .venv/bin/python benchmarks/locals_coverage.py --src ../other-checkout --require 90

The debuggee runs the interpreter given by --python (default: this one), which needs torch
and debugpy; bilstm_hooks and its debugger plugin come from --src when given (put first
on PYTHONPATH), else from what that interpreter imports (an editable install of this
checkout in .venv). The header says which files were loaded. Exit status: 0, or 1 when a
session failed or a stop was never reached, or 2 when --require is not met.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # dap_client
sys.path.insert(0, str(ROOT))  # benchmarks.models

from dap_client import DAPClient, DAPError, debuggee, free_port  # noqa: E402

from benchmarks.models import MODELS, Stop, load, resolve  # noqa: E402

ISSUE_KINDS = MODELS[:5]  # the five kinds issue 10 measured
NAMED = re.compile(r"(?<![\w.])(?:batch|token|layer|direction|hidden|feature)=")
MARKER = "BILSTM_HOOKS_LOCALS_COVERAGE"
UNSUPPORTED = "LOCALS-COVERAGE: attach_hooks(follow=True) is not supported:"
TIMEOUT = 60.0  # per DAP step
MODES = ("plain", "follow")
HEADINGS = {"plain": "follow=False", "follow": "follow=True"}

# Run by the debuggee: the models of {package}, each hooked, one forward each. This
# checkout goes last on sys.path, so that --src (PYTHONPATH) or the installed bilstm_hooks
# wins.
TARGET = """\
import sys
import traceback
sys.path.append({root!r})

import torch

import bilstm_hooks as bh
from {package} import load

follow = sys.argv[1] == "follow"
for name in sys.argv[2:]:
    module = load(name)
    torch.manual_seed(0)
    model, inputs = module.make()
    try:
        rec = bh.attach_hooks(model, follow=True) if follow else bh.attach_hooks(model)
    except TypeError as exc:
        if "follow" not in str(exc):
            raise
        print({unsupported!r}, exc, flush=True)
        raise SystemExit(3) from None
    try:
        with rec:
            model(*inputs)
    except Exception:  # reported, and the next model still runs
        traceback.print_exc()
        print("LOCALS-COVERAGE: failed", name, flush=True)
    else:
        print("LOCALS-COVERAGE: ran", name, flush=True)
"""


@dataclass(frozen=True)
class Where:
    model: str
    stop: Stop  # or any stop with `.line` and `.derived` (benchmarks.wild.WildStop)
    path: Path
    line: int


@dataclass
class Seen:
    """The frame's locals at one stop: name -> DAP variable (value, type, ...)."""

    where: Where
    variables: dict[str, dict[str, Any]]

    def shown(self, name: str) -> bool:
        variable = self.variables.get(name)
        return variable is not None and bool(NAMED.search(str(variable.get("value", ""))))


@dataclass
class Session:
    mode: str
    seen: dict[Where, Seen] = field(default_factory=dict)
    unsupported: str | None = None
    error: str | None = None
    loaded: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    log: str = ""


def _debuggee(
    argv: list[str], workdir: Path, src: Path | None
) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[bytes], Path]]:
    env = {"PYTHONUNBUFFERED": "1"} | ({} if src is None else {"PYTHONPATH": str(src)})
    return debuggee(argv, workdir, MARKER, env)


# -- one debug session -------------------------------------------------------------------
class _Events:
    """Events in the order received, each returned once (DAPClient.event returns the first)."""

    def __init__(self, client: DAPClient) -> None:
        self.client = client
        self.taken: set[int] = set()

    def next(self, *names: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        def match(m: dict[str, Any]) -> bool:
            return m.get("type") == "event" and m.get("event") in names and id(m) not in self.taken

        message = self.client._wait(match, f"an event in {names}", timeout)
        self.taken.add(id(message))
        return message


def _set_breakpoints(client: DAPClient, path: Path, lines: list[int]) -> None:
    breakpoints = [{"line": line} for line in sorted(lines)]
    client.request("setBreakpoints", source={"path": str(path)}, breakpoints=breakpoints)


def _loaded(client: DAPClient, frame_id: int) -> dict[str, str]:
    found = {}
    for what, module in [
        ("bilstm_hooks", "bilstm_hooks"),
        ("plugin", "pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks"),
        ("torch", "torch"),
    ]:
        attr = "__version__" if what == "torch" else "__file__"
        expression = f"getattr(__import__('sys').modules.get({module!r}), {attr!r}, None)"
        with contextlib.suppress(DAPError):
            result = client.request("evaluate", expression=expression, frameId=frame_id,
                                    context="repl")["result"]  # fmt: skip
            found[what] = result.strip("'")
    return found


OnStop = Callable[[DAPClient, Seen], None]
"""Called at each stop, after its locals are read and while the debuggee is stopped."""


def run_session(
    mode: str,
    wheres: list[Where],
    python: str,
    src: Path | None,
    *,
    package: str = "benchmarks.models",
    on_stop: OnStop | None = None,
) -> Session:
    """One debugpy session over the models of `wheres`, loaded from `package`."""
    session = Session(mode)
    start = time.monotonic()
    pending: dict[Path, dict[int, Where]] = {}
    for where in wheres:
        pending.setdefault(where.path, {})[where.line] = where
    models = list(dict.fromkeys(w.model for w in wheres))
    with tempfile.TemporaryDirectory(prefix="locals-coverage-") as tmp:
        workdir = Path(tmp)
        target = workdir / "target.py"
        target.write_text(TARGET.format(root=str(ROOT), unsupported=UNSUPPORTED, package=package))
        port = free_port()
        argv = [python, "-Xfrozen_modules=off", "-m", "debugpy", "--listen",
                f"127.0.0.1:{port}", "--wait-for-client", str(target), mode, *models]  # fmt: skip
        try:
            with _debuggee(argv, workdir, src) as (proc, log_path):
                try:
                    _drive(session, _connect(proc, port), pending, on_stop)
                finally:
                    session.log = log_path.read_text()
        except (DAPError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
            session.error = f"{type(exc).__name__}: {exc}"
    for line in session.log.splitlines():
        if line.startswith(UNSUPPORTED):
            session.unsupported = line[len(UNSUPPORTED) :].strip()
    session.seconds = time.monotonic() - start
    return session


def _connect(proc: subprocess.Popen[bytes], port: int) -> DAPClient:
    """Connect to debugpy, failing at once should the debuggee exit first (no debugpy...)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            client = DAPClient.connect("127.0.0.1", port, timeout=0.5)
        except DAPError as exc:
            if proc.poll() is not None:
                exited = f"the debuggee exited ({proc.returncode}) before debugpy listened"
                raise DAPError(exited) from exc
            if time.monotonic() > deadline:
                raise
        else:
            client.timeout = TIMEOUT  # per request from now on
            return client


def _drive(
    session: Session,
    client: DAPClient,
    pending: dict[Path, dict[int, Where]],
    on_stop: OnStop | None = None,
) -> None:
    try:
        events = _Events(client)
        client.request("initialize", adapterID="debugpy", clientID="bilstm-hooks-coverage",
                       linesStartAt1=True, columnsStartAt1=True, pathFormat="path")  # fmt: skip
        attach = client.send("attach", justMyCode=True)
        client.event("initialized", timeout=TIMEOUT)
        for path, lines in pending.items():
            _set_breakpoints(client, path, list(lines))
        client.request("configurationDone")
        client.response(attach)
        while any(pending.values()):
            event = events.next("stopped", "terminated", "exited")
            if event["event"] != "stopped":
                return
            thread = event["body"]["threadId"]
            frames = client.request("stackTrace", threadId=thread, levels=1)["stackFrames"]
            top = frames[0]
            path, line = Path(top["source"]["path"]).resolve(), top["line"]
            where = pending.get(path, {}).pop(line, None)
            if where is not None:
                scopes = client.request("scopes", frameId=top["id"])["scopes"]
                found = client.request(
                    "variables", variablesReference=scopes[0]["variablesReference"]
                )["variables"]
                session.seen[where] = Seen(where, {v["name"]: v for v in found})
                if on_stop is not None:
                    on_stop(client, session.seen[where])
                if not session.loaded:  # after the locals: nothing evaluated before them
                    session.loaded = _loaded(client, top["id"])
                _set_breakpoints(client, path, list(pending[path]))  # first hit only
            client.request("continue", threadId=thread)
        with contextlib.suppress(DAPError):
            client.request("disconnect", terminateDebuggee=True, timeout=5)
    finally:
        client.close()


# -- the report --------------------------------------------------------------------------
def _count(session: Session | None, wheres: list[Where]) -> tuple[int, int] | None:
    if session is None or session.unsupported is not None:
        return None
    shown = derived = 0
    for where in wheres:
        seen = session.seen.get(where)
        derived += len(where.stop.derived)
        if seen is not None:
            shown += sum(seen.shown(name) for name in where.stop.derived)
    return shown, derived


def _cell(counted: tuple[int, int] | None) -> str:
    if counted is None:
        return "n/a"
    shown, derived = counted
    return f"{shown}/{derived} {100 * shown / derived:3.0f}%" if derived else "-"


def _status_cell(session: Session, group: list[Where]) -> str:
    if session.error:
        return "failed"
    cell = _cell(_count(session, group))
    reached = session.unsupported is not None or all(w in session.seen for w in group)
    return cell if reached else cell + " !"


def _one_line(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def report(wheres: list[Where], sessions: dict[str, Session], values: bool) -> list[str]:
    out = []
    models = list(dict.fromkeys(w.model for w in wheres))
    first = next((s for s in sessions.values() if s.loaded), None)
    if first is not None:
        for what, loaded in first.loaded.items():
            out.append(f"{what}: {loaded}")
    for mode, session in sessions.items():
        state = session.error or (f"n/a ({session.unsupported})" if session.unsupported else "ok")
        out.append(f"{HEADINGS[mode]} session: {session.seconds:.1f} s, {state}")
    out.append("")
    if values:
        for where in wheres:
            out.append(f"{where.model}: {where.stop.function}, line {where.line}: "
                       f"{where.stop.line}")  # fmt: skip
            for mode, session in sessions.items():
                seen = session.seen.get(where)
                if session.unsupported is not None:
                    continue
                if seen is None:
                    out.append(f"  {HEADINGS[mode]}: never stopped here")
                    continue
                out.append(f"  {HEADINGS[mode]}:")
                for name in where.stop.derived:
                    variable = seen.variables.get(name, {"value": "<not listed by the debugger>"})
                    mark = "+" if seen.shown(name) else "-"
                    out.append(f"    {mark} {name:16} {_one_line(variable['value'], 96)}")
                extra = [n for n in seen.variables if n not in where.stop.derived
                         and seen.shown(n)]  # fmt: skip
                for name in extra:
                    value = _one_line(seen.variables[name]["value"], 96)
                    out.append(f"    ~ {name:16} {value}  (not counted)")
        out.append("")
    heads = [HEADINGS[m] for m in sessions]
    out.append(f"{'model':22} {'stops':>5} {'derived':>7}  " + "  ".join(f"{h:>14}" for h in heads))
    rows = [(m, [w for w in wheres if w.model == m]) for m in models]
    if set(ISSUE_KINDS) <= set(models) and len(models) > len(ISSUE_KINDS):
        rows.append(("total, issue's 5 kinds", [w for w in wheres if w.model in ISSUE_KINDS]))
    rows.append(("total", wheres))
    for label, group in rows:
        derived = sum(len(w.stop.derived) for w in group)
        cells = [_status_cell(sessions[m], group) for m in sessions]
        if label.startswith("total"):
            out.append("-" * (40 + 16 * len(sessions)))
        out.append(f"{label:22} {len(group):>5} {derived:>7}  "
                   + "  ".join(f"{c:>14}" for c in cells))  # fmt: skip
    if any(_status_cell(s, wheres).endswith("!") for s in sessions.values()):
        out.append("! some stops were never reached: their locals count as not shown")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the debuggee's interpreter (torch and debugpy installed)",
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=None,
        help="a checkout whose bilstm_hooks and plugin to use (PYTHONPATH)",
    )
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--values", action="store_true", help="print every value line")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--require",
        type=float,
        default=None,
        metavar="PERCENT",
        help="exit 2 unless follow=True shows at least this share in total",
    )
    args = parser.parse_args(argv)
    src = args.src.resolve() if args.src else None

    wheres = []
    for name in args.models:
        module = load(name)
        for stop in module.STOPS:
            path, line = resolve(module, stop)
            wheres.append(Where(name, stop, path, line))

    start = time.monotonic()
    sessions = {mode: run_session(mode, wheres, args.python, src) for mode in args.modes}
    print("\n".join(report(wheres, sessions, args.values)))
    print(f"\ndebugpy sessions: {len(sessions)}, {time.monotonic() - start:.1f} s in all")

    status = 0
    for mode, session in sessions.items():
        missed = [w for w in wheres if w not in session.seen]
        if session.error or (missed and session.unsupported is None):
            status = 1
            print(f"\n{HEADINGS[mode]}: {session.error or 'some stops never reached'}")
            for where in missed:
                print(f"  never stopped at {where.model}: {where.stop.function} line {where.line}")
            print("  debuggee output, last lines:")
            for text in session.log.splitlines()[-15:]:
                print("    " + text)
    if args.json is not None:
        results = {
            mode: {
                "unsupported": s.unsupported,
                "error": s.error,
                "loaded": s.loaded,
                "stops": [
                    {
                        "model": w.model,
                        "function": w.stop.function,
                        "line": w.line,
                        "locals": {
                            name: {
                                "value": s.seen[w].variables.get(name, {}).get("value"),
                                "shown": s.seen[w].shown(name),
                            }
                            for name in w.stop.derived
                        },
                    }
                    for w in wheres
                    if w in s.seen
                ],
            }
            for mode, s in sessions.items()
        }
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if args.require is not None and status == 0:
        counted = _count(sessions.get("follow"), wheres)
        if counted is None or 100 * counted[0] < args.require * counted[1]:
            print(f"\nfollow=True: below the required {args.require:g}%")
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
