"""The debugger plugin in real debuggers, end to end.

Each session runs a script with a hooked model in a fresh virtual environment
holding bilstm_hooks as a user would have it (a wheel install, or `pip install -e .`),
stops at a breakpoint after `out, (h_n, c_n) = self.encoder(x)`, then, in a packed
classifier hooked with `follow=True`, one line after each of `pad_packed_sequence`,
`h_n[-1]`, `cat([h_n[-2], h_n[-1]], -1)`, a buggy `h_n.view(-1, 2 * H)` and the
`(h_n, c_n)` tuple, and asserts what the variables pane shows (each value line
exactly; PyCharm at the classifier's last line only):

- VS Code: debugpy over the Debug Adapter Protocol (`tests/dap_client.py`);
- plain pydevd over the same protocol;
- PyCharm: pydevd-pycharm over its own protocol (`tests/pycharm_client.py`), run
  from its source release, fetched once into pytest's cache (skipped offline).

Loopback only. Every debuggee runs in a new session; it and anything it spawned
(debugpy's adapter leaves the session) carry a marker in their environment and are
killed in a `finally`, then checked gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from dap_client import DAPClient, debuggee, free_port
from pycharm_client import PyCharmClient

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "pydevd_plugins/extensions/pydevd_plugin_bilstm_hooks.py"
PYCHARM = "pydevd-pycharm==263.7307.50"  # the version the protocol client was written for
MARKER = "BILSTM_HOOKS_DEBUGGER_TEST"
TIMEOUT = 60.0  # per step; a whole session takes 3-9 s on 2 cores

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds leftover processes through /proc"
)

TARGET = """\
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh


class Tagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.LSTM(3, 64, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x, lengths):
        out, (h_n, c_n) = self.encoder(x)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        packed_out, _ = self.encoder(packed)
        plain = torch.zeros(3, 4)
        return out  # BREAK tagger


class Classifier(torch.nn.Module):  # the issue's packed classifier, followed
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        packed_out, (h_n, c_n) = self.encoder(packed)
        padded, _ = pad_packed_sequence(packed_out, batch_first=True)
        last = h_n[-1]  # BREAK padded
        final = torch.cat([h_n[-2], h_n[-1]], -1)  # BREAK last
        wrong = h_n.view(-1, 2 * 4)  # BREAK final
        hidden = (h_n, c_n)  # BREAK wrong
        return final  # BREAK hidden


torch.manual_seed(0)
model = Tagger()
rec = bh.attach_hooks(model)
with torch.no_grad():
    model(torch.randn(4, 12, 3), torch.tensor([5, 12, 7, 3]))
classifier = Classifier()
bh.attach_hooks(classifier, follow=True)
with torch.no_grad():
    classifier(torch.randn(3, 6, 3), torch.tensor([4, 6, 2]))
"""
BREAKS = ("tagger", "padded", "last", "final", "wrong", "hidden")

# an axis that fuses names: the plain shape after them
OUT = "batch=4 token=12 (direction=2 hidden=64) · shape=(4, 12, 128) · encoder.out · float32 cpu"
H_N = "(layer=2 direction=2) batch=4 hidden=64 · shape=(4, 4, 64) · encoder.h_n · float32 cpu"
C_N = "(layer=2 direction=2) batch=4 hidden=64 · shape=(4, 4, 64) · encoder.c_n · float32 cpu"
PACKED = (  # a PackedSequence's line: bh.describe's, as its data is not that shape
    "batch=4 token=12 (direction=2 hidden=64) · encoder.out · float32 cpu"
    " · packed, lengths [5, 12, 7, 3]"
)
FORWARD = "batch=4 token=12 hidden=64 · encoder.out: forward · float32 cpu · forward direction only"
PLAIN = repr(torch.zeros(3, 4))
OUT_CHILDREN = ["forward", "backward", "batch", "token", "direction", "hidden", "pattern"]
H_N_CHILDREN = [
    "layer 0 forward",
    "layer 0 backward",
    "layer 1 forward",
    "layer 1 backward",
    "final",
    "layer",
    "direction",
    "batch",
    "hidden",
    "pattern",
]
FINAL_CHILDREN = ["forward", "backward", "batch", "direction", "hidden", "pattern"]
RECORD_CHILDREN = [
    "name", "kind", "out", "h_n", "c_n", "input", "lengths", "final", "layers", "module"
]  # fmt: skip
# the follow stops: each local as the variables pane shows it, the line after it is bound
H_N_4 = "(layer=2 direction=2) batch=3 hidden=4"
FOLLOWED = {
    "padded": "batch=3 token=6 (direction=2 hidden=4) · shape=(3, 6, 8)"
    " · Classifier.encoder.out, padded · float32 cpu · lengths [4, 6, 2]",
    "last": "batch=3 hidden=4 · Classifier.encoder.h_n: layer 1, backward · float32 cpu"
    " · backward direction only",
    "final": "batch=3 (direction=2 hidden=4) · shape=(3, 8) · Classifier.encoder.h_n: layer 1"
    " · float32 cpu · both directions",
    "wrong": "tensor shape=(6, 8) · float32 cpu · a view of Classifier.encoder.h_n, unnamed:"
    " an axis of size 6 mixes layer and direction and batch and hidden",
    "hidden": f"({H_N_4} · Classifier.encoder.h_n, {H_N_4} · Classifier.encoder.c_n) · float32 cpu",
}
GROUPS = {"special variables", "function variables", "class variables", "protected variables"}


# -- installs -----------------------------------------------------------------------------
def _pip(*args: str | Path, timeout: float = 240) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *map(str, args)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )


def _fresh_venv(where: Path) -> tuple[Path, Path]:
    """A new environment whose own site-packages come first, then this one's (for torch,
    debugpy, pydevd). Only its own .pth files run: not this environment's editable one."""
    venv.create(where, with_pip=False, symlinks=os.name != "nt")
    python = where / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (purelib / "_this_test_deps.pth").write_text("\n".join(ours) + "\n")
    return python, purelib


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", out, ROOT)
    (built,) = out.glob("bilstm_hooks-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python, site = _fresh_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    _pip("install", "--no-deps", "--no-index", "--quiet", "--target", site, wheel)
    return python


@pytest.fixture(scope="module")
def editable_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python, site = _fresh_venv(tmp_path_factory.mktemp("editable-venv") / "venv")
    _pip("install", "--no-deps", "--no-build-isolation", "--quiet", "--target", site, "-e", ROOT)
    return python


@pytest.fixture(scope="module")
def pycharm_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pydevd-pycharm's source release, unpacked: it runs as is (its speed-ups are optional)."""
    cache = getattr(request.config, "cache", None)
    name = PYCHARM.replace("==", "-")
    where = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    found = [p.parent for p in where.glob("*/pydevd.py")]
    if found:
        return found[0]
    try:
        _pip("download", "--no-deps", "--no-build-isolation", "--no-binary", ":all:",
             "--quiet", "-d", where, PYCHARM, timeout=120)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"could not fetch {PYCHARM}: {stderr.decode(errors='replace')[-300:]}")
    (sdist,) = where.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(where, filter="data")
        else:  # pragma: no cover - Pythons without extraction filters
            archive.extractall(where)
    sdist.unlink()
    (found,) = [p.parent for p in where.glob("*/pydevd.py")]
    return found


def test_wheel_ships_the_plugin_without_namespace_inits(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert PLUGIN in names
    assert "bilstm_hooks/_display/debugger.py" in names
    # pydevd owns these (they extend the namespace); shipping them would clobber its own
    assert not [n for n in names if n.startswith("pydevd_plugins/") and n.endswith("__init__.py")]


def test_sdist_ships_the_plugin(tmp_path: Path) -> None:
    """The sdist holds the plugin, so that a wheel built from it (pip install from source)
    can ship it too; the wheel itself is checked above."""
    code = "import sys; from hatchling.build import build_sdist; print(build_sdist(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, tmp_path], cwd=ROOT, check=True, timeout=120)
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(name.endswith("/" + PLUGIN) for name in names)


# -- processes ----------------------------------------------------------------------------
@contextlib.contextmanager
def _debuggee(argv: list[str | Path], workdir: Path, **env: str) -> Iterator[None]:
    try:
        with debuggee([str(a) for a in argv], workdir, MARKER, env):
            yield
    finally:
        print((workdir / "debuggee.log").read_text())  # shown when a test fails


def _target(workdir: Path) -> tuple[Path, dict[str, int]]:
    """The script, and the line of each `# BREAK <name>`."""
    path = workdir / "target.py"
    path.write_text(TARGET)
    lines = {
        text.rsplit("# BREAK ", 1)[1]: i
        for i, text in enumerate(TARGET.splitlines(), 1)
        if "# BREAK " in text
    }
    assert tuple(lines) == BREAKS
    return path, lines


# -- DAP sessions (VS Code's debugpy, plain pydevd) ----------------------------------------
@dataclass
class Stopped:
    client: DAPClient
    frame_id: int
    line: int
    locals: dict[str, dict[str, Any]]

    def children(self, variable: dict[str, Any]) -> list[dict[str, Any]]:
        assert variable["variablesReference"] > 0, variable
        found = self.client.request("variables", variablesReference=variable["variablesReference"])
        return [v for v in found["variables"] if v["name"] not in GROUPS]

    def evaluate(self, expression: str, context: str = "watch") -> dict[str, Any]:
        result: dict[str, Any] = self.client.request(
            "evaluate", expression=expression, frameId=self.frame_id, context=context
        )
        return result

    def true(self, expression: str) -> bool:
        return self.evaluate(expression, "repl")["result"] == "True"


class Stops:
    """The breakpoints, one after the other: `next()` continues to the next and reads it."""

    def __init__(self, client: DAPClient, lines: dict[str, int]) -> None:
        self.client, self.lines = client, lines
        self._taken: set[int] = set()
        self._thread: int | None = None

    def next(self, name: str) -> Stopped:
        client = self.client
        if self._thread is not None:
            client.request("continue", threadId=self._thread)

        def new_stop(message: dict[str, Any]) -> bool:
            is_stop = message.get("type") == "event" and message.get("event") == "stopped"
            return is_stop and id(message) not in self._taken

        message = client._wait(new_stop, f"the stop at {name!r}", TIMEOUT)
        self._taken.add(id(message))
        self._thread = message["body"]["threadId"]
        frames = client.request("stackTrace", threadId=self._thread)["stackFrames"]
        assert frames[0]["line"] == self.lines[name], (name, frames[0]["line"])
        frame_id = frames[0]["id"]
        scopes = client.request("scopes", frameId=frame_id)["scopes"]
        found = client.request("variables", variablesReference=scopes[0]["variablesReference"])
        variables = {v["name"]: v for v in found["variables"]}
        return Stopped(client, frame_id, frames[0]["line"], variables)


@contextlib.contextmanager
def _dap_session(which: str, python: Path, workdir: Path) -> Iterator[Stops]:
    target, lines = _target(workdir)
    flags = ["-Xfrozen_modules=off"]
    with contextlib.ExitStack() as stack:
        if which == "debugpy":
            port = free_port()
            listen = ["-m", "debugpy", "--listen", f"127.0.0.1:{port}", "--wait-for-client"]
            stack.enter_context(_debuggee([python, *flags, *listen, target], workdir))
            client = DAPClient.connect("127.0.0.1", port, timeout=TIMEOUT)
        else:
            server = stack.enter_context(socket.socket())
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            port = server.getsockname()[1]
            dial = ["-m", "pydevd", "--client", "127.0.0.1", "--port", str(port)]
            argv = [python, *flags, *dial, "--json-dap-http", "--file", target]
            stack.enter_context(_debuggee(argv, workdir))
            client = DAPClient.accept(server, timeout=TIMEOUT)
        stack.callback(client.close)
        client.request("initialize", adapterID=which, clientID="bilstm-hooks-tests",
                       linesStartAt1=True, columnsStartAt1=True, pathFormat="path")  # fmt: skip
        attach = client.send("attach", justMyCode=True)
        if which == "debugpy":
            client.event("initialized")
        breakpoints = [{"line": line} for line in lines.values()]
        client.request("setBreakpoints", source={"path": str(target)}, breakpoints=breakpoints)
        client.request("configurationDone")
        client.response(attach)
        yield Stops(client, lines)
        with contextlib.suppress(Exception):
            client.request("disconnect", terminateDebuggee=True, timeout=5)


def _check_tagger(stopped: Stopped) -> None:
    """Everything issue 5 promised, as the variables pane receives it."""
    local = stopped.locals
    assert local["out"]["value"] == OUT
    assert local["h_n"]["value"] == H_N
    assert local["c_n"]["value"] == C_N
    assert local["packed_out"]["value"] == PACKED
    assert local["plain"]["value"] == PLAIN  # not ours: the default presentation
    assert local["out"]["type"] == "Tensor"

    # out: forward/backward views that evaluate to themselves, dims, then the usual attributes
    out = stopped.children(local["out"])
    names = [v["name"] for v in out]
    assert names[:7] == OUT_CHILDREN
    assert {"shape", "dtype", "device", "requires_grad"} <= set(names[7:])
    forward, backward = out[0], out[1]
    assert forward["value"] == FORWARD
    assert forward["evaluateName"] == "out[..., :64]"
    assert stopped.evaluate("out[..., :64]")["result"] == FORWARD  # as typed in a watch pane
    assert stopped.true(f"torch.equal({forward['evaluateName']}, out[..., :64])")
    assert stopped.true(f"torch.equal({backward['evaluateName']}, out[..., 64:])")
    shares = "{}.untyped_storage().data_ptr() == out.untyped_storage().data_ptr()"
    assert stopped.true(shares.format(backward["evaluateName"]))  # a view, not a copy
    assert [v["value"] for v in out[2:6]] == ["4", "12", "2", "64"]
    assert all(stopped.evaluate(v["evaluateName"])["result"] == v["value"] for v in out[2:6])

    # h_n: one row per layer and direction, then `final`, the sequence representation
    h_n = stopped.children(local["h_n"])
    assert [v["name"] for v in h_n][:10] == H_N_CHILDREN
    layer1_backward, final = h_n[3], h_n[4]
    assert layer1_backward["value"] == (
        "batch=4 hidden=64 · encoder.h_n: layer 1, backward · float32 cpu · backward direction only"
    )
    assert stopped.true(f"torch.equal({layer1_backward['evaluateName']}, h_n[3])")
    assert final["value"] == (
        "batch=4 (direction=2 hidden=64) · shape=(4, 128) · encoder.h_n.final · float32 cpu"
        " · a copy, made when expanded"
    )
    assert stopped.true(f"torch.equal({final['evaluateName']}, torch.cat([h_n[-2], h_n[-1]], -1))")
    assert [v["name"] for v in stopped.children(final)][:6] == FINAL_CHILDREN

    # a PackedSequence: lengths and the padded, annotated view (padded when expanded)
    packed = stopped.children(local["packed_out"])
    assert [(v["name"], v["value"]) for v in packed[:1]] == [
        ("lengths", "tensor([ 5, 12,  7,  3])")
    ]
    assert stopped.true(f"{packed[0]['evaluateName']}.tolist() == [5, 12, 7, 3]")
    padded = packed[1]
    assert padded["name"] == "padded"
    assert padded["value"] == OUT + " · padded copy, made when expanded"
    assert [v["name"] for v in stopped.children(padded)][:7] == OUT_CHILDREN
    padded_again = "torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True)[0]"
    assert stopped.true(f"torch.equal({padded['evaluateName']}, {padded_again})")

    # a tensor the hooks did not produce: nothing of ours among its children
    plain = {v["name"] for v in stopped.children(local["plain"])}
    assert "shape" in plain
    assert not plain & {"forward", "batch", "pattern"}

    # hover shows the named dims; "Copy Value" copies the tensor's own repr
    assert stopped.evaluate("out", "hover")["result"] == OUT
    assert stopped.evaluate("out", "clipboard")["result"].startswith("tensor([[[")

    # Recorder, Record and AnnotatedTensor themselves
    rec = stopped.evaluate("rec")
    assert rec["result"] == "Recorder: 1 hooked, 1 called ('encoder')"
    (first, *_) = stopped.children(rec)
    assert first["name"] == "'encoder'"
    assert first["evaluateName"] == "rec['encoder']"
    record = stopped.children(first)
    assert [v["name"] for v in record][:10] == RECORD_CHILDREN
    # a packed call: padding waits for expansion; the type column names what it will be
    assert record[2]["type"] == "AnnotatedTensor"
    layers = record[RECORD_CHILDREN.index("layers")]  # the replay waits for expansion too
    assert layers["type"] == "Unrolled"
    assert layers["value"] == "2 layers × 2 directions at every token · replayed when expanded"
    replayed = stopped.children(layers)
    assert [v["name"] for v in replayed][:4] == H_N_CHILDREN[:4]
    assert replayed[0]["value"] == (
        "batch=4 token=12 hidden=64 · encoder.unroll().out[layer 0 forward] · float32 cpu"
    )
    annotated = stopped.evaluate("rec['encoder'].h_n")
    assert annotated["result"] == H_N
    assert [v["name"] for v in stopped.children(annotated)][:5] == H_N_CHILDREN[:5]


def _check_followed(stops: Stops) -> None:
    """follow=True: each stop, one line after the local it checks is bound, shows it named;
    the buggy view says why it has no names; the (h_n, c_n) tuple shows both."""
    for name in BREAKS[1:]:
        stopped = stops.next(name)
        assert stopped.locals[name]["value"] == FOLLOWED[name], name
    local = stopped.locals  # the last stop: all of them still there
    assert {name: local[name]["value"] for name in FOLLOWED} == FOLLOWED
    # a derived view's children: its halves, dims, then where it was taken and its notes
    final = {v["name"]: v for v in stopped.children(local["final"])}
    assert list(final)[:7] == [
        "forward",
        "backward",
        "batch",
        "direction",
        "hidden",
        "pattern",
        "at",
    ]
    assert final["at"]["value"] == "{'layer': 1}"
    assert stopped.evaluate(final["at"]["evaluateName"])["result"] == "{'layer': 1}"
    backward = final["backward"]["value"]  # the base's "both directions" may still follow
    assert backward.startswith(
        "batch=3 hidden=4 · Classifier.encoder.h_n: layer 1, backward · float32 cpu"
    )
    assert backward.endswith("backward direction only")
    assert stopped.evaluate("final[..., 4:]")["result"] == backward  # as typed in a watch pane
    padded = {v["name"]: v for v in stopped.children(local["padded"])}
    assert padded["lengths"]["value"] == "(4, 6, 2)"
    # a tuple's items are pydevd's own, each shown as ours
    items = stopped.children(local["hidden"])
    assert [v["value"] for v in items[:2]] == [
        f"{H_N_4} · shape=(4, 3, 4) · Classifier.encoder.h_n · float32 cpu",
        f"{H_N_4} · shape=(4, 3, 4) · Classifier.encoder.c_n · float32 cpu",
    ]


def _where_loaded(stopped: Stopped) -> tuple[str, str]:
    plugin = "__import__('sys').modules['pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks']"
    library = "__import__('sys').modules['bilstm_hooks']"
    return (
        stopped.evaluate(f"{plugin}.__file__", "repl")["result"].strip("'"),
        stopped.evaluate(f"{library}.__file__", "repl")["result"].strip("'"),
    )


def test_debugpy_with_a_wheel_install(
    wheel_python: Path, tmp_path: Path, record_property: Any
) -> None:
    start = time.monotonic()
    with _dap_session("debugpy", wheel_python, tmp_path) as stops:
        stopped = stops.next("tagger")
        plugin, library = _where_loaded(stopped)
        site = str(wheel_python.parents[1])
        assert plugin.startswith(site), plugin  # the wheel's copy, not the source tree's
        assert library.startswith(site), library
        _check_tagger(stopped)
        _check_followed(stops)
    seconds = time.monotonic() - start
    record_property("session_seconds", round(seconds, 2))
    print(f"debugpy session (wheel install): {seconds:.2f} s")


def test_debugpy_with_an_editable_install(
    editable_python: Path, tmp_path: Path, record_property: Any
) -> None:
    start = time.monotonic()
    with _dap_session("debugpy", editable_python, tmp_path) as stops:
        stopped = stops.next("tagger")
        plugin, library = _where_loaded(stopped)
        assert Path(plugin) == ROOT / PLUGIN
        assert Path(library) == ROOT / "bilstm_hooks" / "__init__.py"
        _check_tagger(stopped)
        _check_followed(stops)
    seconds = time.monotonic() - start
    record_property("session_seconds", round(seconds, 2))
    print(f"debugpy session (editable install): {seconds:.2f} s")


def test_plain_pydevd(editable_python: Path, tmp_path: Path, record_property: Any) -> None:
    start = time.monotonic()
    with _dap_session("pydevd", editable_python, tmp_path) as stops:
        stopped = stops.next("tagger")
        assert Path(_where_loaded(stopped)[0]) == ROOT / PLUGIN
        _check_tagger(stopped)
        _check_followed(stops)
    seconds = time.monotonic() - start
    record_property("session_seconds", round(seconds, 2))
    print(f"pydevd session: {seconds:.2f} s")


# -- PyCharm --------------------------------------------------------------------------------
def test_pycharm(
    pycharm_path: Path, editable_python: Path, tmp_path: Path, record_property: Any
) -> None:
    start = time.monotonic()
    target, lines = _target(tmp_path)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = str(server.getsockname()[1])
        argv = [editable_python, "-Xfrozen_modules=off", pycharm_path / "pydevd.py"]
        argv += ["--client", "127.0.0.1", "--port", port, "--file", target]
        stack.enter_context(_debuggee(argv, tmp_path, PYTHONPATH=str(pycharm_path)))
        client = PyCharmClient.accept(server, timeout=TIMEOUT)
        stack.callback(client.close)
        client.start(str(target), lines["tagger"], lines["hidden"])
        assert client.line == lines["tagger"]

        plugin = client.evaluate(
            "__import__('sys').modules['pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks']"
            ".__file__"
        )
        assert Path(plugin[2]) == ROOT / PLUGIN
        values = {name: value for name, _, value in client.frame_variables()}
        assert values["out"] == OUT
        assert values["h_n"] == H_N
        assert values["packed_out"] == PACKED
        assert values["plain"] == PLAIN

        out = client.children("out")
        assert [name for name, _, _ in out][:7] == OUT_CHILDREN
        assert out[0][2] == FORWARD
        assert "shape" in {name for name, _, _ in out[7:]}
        assert [name for name, _, _ in client.children("h_n")][:10] == H_N_CHILDREN
        assert [name for name, _, _ in client.children("h_n", "final")][:6] == FINAL_CHILDREN
        packed = client.children("packed_out")
        assert packed[0] == ("lengths", "Tensor", "tensor([ 5, 12,  7,  3])")
        assert packed[1][:2] == ("padded", "Tensor")  # made when expanded
        assert [n for n, _, _ in client.children("packed_out", "padded")][:7] == OUT_CHILDREN
        assert not {name for name, _, _ in client.children("plain")} & {"forward", "batch"}
        assert client.children("rec")[0][0] == "'encoder'"

        # follow=True: the locals of the followed classifier, all bound by its last line
        assert client.next_stop() == lines["hidden"]
        values = {name: value for name, _, value in client.frame_variables()}
        assert {name: values[name] for name in FOLLOWED} == FOLLOWED
        at = {name: value for name, _, value in client.children("final")}["at"]
        assert at == "{'layer': 1}"
        client.resume()
    seconds = time.monotonic() - start
    record_property("session_seconds", round(seconds, 2))
    print(f"pydevd-pycharm session: {seconds:.2f} s")
