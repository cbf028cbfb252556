"""VS Code's Jupyter Variables views, fed by the extension's own kernel-side helper
(vendored in `vscode_jupyter_variables.py`) run in a real ipykernel: with `bh.patch_repr()`
in a cell, or `BILSTM_HOOKS_REPR=1` in the kernel's environment and no call, a tensor a
hooked layer returned shows its named dims first; any other tensor shows exactly what it
shows unpatched (the same helper on the same object after `bh.unpatch_repr()`).

Two views, each read the way microsoft/vscode-jupyter reads it:
- the Variables view (`JupyterVariablesProvider`): `vscodeGetVariablesForProvider.py`'s
  `_VSCODE_getVariableDescriptions(%who_ls)`, wrapped as `execCodeInBackgroundThread`
  wraps it, the rows coming back in a display update: value is the helper's copy of
  pydevd's SafeRepr (`repr`, cut only past 2**16 characters), type the full type name;
- the "Jupyter: Variables" panel (`KernelVariables`): type and shape from
  `_VSCODE_getVariable("info", False, name)`, value from the kernel's inspect reply,
  parsed with `kernelVariables.ts`'s regexes (the first line of IPython's "String form").
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipykernel")
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).parent.parent
TIMEOUT = 60  # seconds for any one reply: a hung kernel fails the test
HELPER = Path(__file__).with_name("vscode_jupyter_variables.py").read_text(encoding="utf-8")
PROVIDER, INFO = HELPER.split("# ==== vscodeGetVariableInfo.py ====\n")
# src/standalone/api/kernels/backgroundExecution.ts, with its ${...} as %(...)s
BACKGROUND = """
def __jupyter_exec_background__():
    from IPython.display import display
    from threading import Thread
    from traceback import format_exc
    output = display({"%(mime)s": ""}, raw=True, display_id=True)

    def do_implementation():
%(body)s

    def bg_main():
        try:
            output.update({"%(mime)s.result": do_implementation()}, raw=True)
        except Exception as e:
            output.update({"%(mime)s.error": format_exc()}, raw=True)

    Thread(target=bg_main, daemon=True).start()

__jupyter_exec_background__()
del __jupyter_exec_background__
"""
CLEANUP = "try:\n    del _VSCODE_getVariable\nexcept:\n    pass"  # variableScriptGenerator.ts
PANEL_VALUE = [r"Value:\s*(.*)", r"String form:\s*([\s\S]+?)\n", r"Docstring:\s*(.*)"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL = """
import torch, bilstm_hooks as bh
lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
%s
out, (h_n, c_n) = lstm(torch.randn(2, 6, 3))
last = h_n[-1]
plain = torch.zeros(3)
"""
NAMES = {  # what each annotated row's value starts with
    "out": "batch=2 token=6 (direction=2 hidden=4) · encoder.out · ",
    "h_n": "(layer=2 direction=2) batch=2 hidden=4 · encoder.h_n · ",
    "last": "batch=2 hidden=4 · encoder.h_n: layer 1, backward · ",
}
SHAPES = {"out": "(2, 6, 8)", "h_n": "(4, 2, 4)", "last": "(2, 4)", "plain": "(3)"}
Message = dict[str, Any]


def execute(kc: BlockingKernelClient, code: str) -> list[Message]:
    """Run `code` as the extension's `executeSilently` does; its iopub messages to idle."""
    msg_id = kc.execute(code, store_history=False, stop_on_error=False)
    messages: list[Message] = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
        assert msg["msg_type"] != "error", "\n".join(msg["content"]["traceback"])
        assert msg["content"].get("name") != "stderr", msg["content"]["text"]
        messages.append(msg)


def variables_view(kc: BlockingKernelClient, counter: int) -> dict[str, Message]:
    script = PROVIDER + "\n\nvariables= %who_ls\nreturn _VSCODE_getVariableDescriptions(variables)"
    body = "\n".join(f"        {line}" for line in script.split("\n"))
    mime = f"application/vnd.vscode.bg.execution.{counter}"
    messages = execute(kc, BACKGROUND % {"mime": mime, "body": body})
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    display_id = shown[0]["content"]["transient"]["display_id"]
    while True:  # the rows come from a thread, maybe after idle
        for msg in messages:
            content = msg["content"]
            if content.get("transient", {}).get("display_id") != display_id:
                continue
            assert f"{mime}.error" not in content["data"], content["data"]
            if f"{mime}.result" in content["data"]:
                return {row["name"]: row for row in json.loads(content["data"][f"{mime}.result"])}
        messages = [kc.get_iopub_msg(timeout=TIMEOUT)]


def panel(kc: BlockingKernelClient, name: str) -> dict[str, Any]:
    printed = execute(kc, f'{INFO}\n\n_VSCODE_getVariable("info", False, {name})\n\n{CLEANUP}')
    info: dict[str, Any] = json.loads(
        "".join(m["content"]["text"] for m in printed if m["msg_type"] == "stream")
    )
    reply = kc.inspect(name, 0, 0, reply=True, timeout=TIMEOUT)
    text = ANSI.sub("", reply["content"]["data"]["text/plain"])
    matches = (re.search(regex, text) for regex in PANEL_VALUE)
    info["value"] = next(m[1] for m in matches if m and m[1])
    return info


def views(kc: BlockingKernelClient, counter: int) -> dict[str, dict[str, Any]]:
    rows = variables_view(kc, counter)
    return {name: {"row": rows[name], "panel": panel(kc, name)} for name in SHAPES}


@pytest.mark.parametrize("route", ["patch_repr", "environment"])
def test_the_variables_views_show_the_named_dims_first(route: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BILSTM_HOOKS_REPR"}
    if route == "environment":
        env["BILSTM_HOOKS_REPR"] = "1"
    km, kc = start_new_kernel(startup_timeout=TIMEOUT, env=env, cwd=str(ROOT))
    try:
        execute(kc, CELL % ("bh.patch_repr()" if route == "patch_repr" else ""))
        patched = views(kc, 0)
        execute(kc, "bh.unpatch_repr()")
        torchs = views(kc, 1)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    for name, names in NAMES.items():
        row, before = patched[name]["row"], torchs[name]["row"]
        assert row["type"] == before["type"] == "torch.Tensor"
        assert before["value"].startswith("tensor(")
        first, rest = row["value"].split("\n", 1)  # SafeRepr cut nothing: under 2**16
        assert first.startswith(names)
        assert rest == before["value"]  # then torch's text, unchanged
        assert patched[name]["panel"]["value"] == first
        assert torchs[name]["panel"]["value"].startswith("tensor(")
    for name, shape in SHAPES.items():
        info = {k: v for k, v in patched[name]["panel"].items() if k != "value"}
        assert info == {"type": "Tensor", "fullType": "torch.Tensor", "shape": shape,
                        "count": int(shape.strip("()").split(",")[0])}  # fmt: skip
    assert patched["plain"] == torchs["plain"]  # not annotated: exactly as unpatched
    assert patched["plain"]["row"]["value"] == "tensor([0., 0., 0.])"
