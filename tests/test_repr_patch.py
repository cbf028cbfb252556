"""`bh.patch_repr()`: an annotated tensor's repr and str start with its names, wherever a
repr is shown (print, logging, tracebacks, pdb, a subprocess with the environment variable);
any other tensor's repr is exactly torch's, and a repr patched before keeps its text."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import bilstm_hooks as bh

NAMES = "batch=2 hidden=4 · encoder.h_n: layer 1, backward"


@pytest.fixture
def held() -> Iterator[dict[str, Any]]:
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(5, 2, 3))
    torch_text = {"h_n[-1]": repr(h_n[-1]), "plain": repr(torch.arange(3.0))}
    bh.patch_repr()
    yield {"h_n": h_n, "out": out, "torch": torch_text}
    bh.unpatch_repr()
    rec.remove()


def test_the_names_come_first_and_torchs_text_follows_unchanged(held: dict[str, Any]) -> None:
    last = held["h_n"][-1]
    text = repr(last)
    assert text[:50] == f"{NAMES} · float32 cpu · backward direction only"[:50]
    assert text.split("\n", 1)[1] == held["torch"]["h_n[-1]"]
    assert str(last) == text
    assert repr(torch.arange(3.0)) == held["torch"]["plain"]  # not annotated: torch's


def test_print_logging_and_a_traceback_show_the_names(
    held: dict[str, Any], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    final = held["h_n"][-1]
    print(final)
    assert capsys.readouterr().out.startswith(NAMES)
    with caplog.at_level(logging.INFO):
        logging.getLogger("train").info("state %s", final)
    assert NAMES in caplog.text
    try:
        raise ValueError("shapes")
    except ValueError as exc:
        frames = traceback.TracebackException.from_exception(exc, capture_locals=True)
        assert NAMES in "".join(frames.format())


def test_it_reads_no_tensor_data_beyond_torchs_own_repr() -> None:
    # on the meta device a tensor has no data: torch's repr reads none, and neither may
    # the names (a read would fail, and the names would be missing)
    with torch.device("meta"):
        gru = torch.nn.GRU(3, 4, bidirectional=True)
        rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": gru}))
        _, h_n = gru(torch.randn(5, 2, 3))
    bh.patch_repr()
    try:
        text = repr(h_n)
    finally:
        bh.unpatch_repr()
    assert text.startswith("(layer=1 direction=2) batch=2 hidden=4 · encoder.h_n · float32 meta")
    assert "device='meta'" in text.split("\n", 1)[1]
    rec.remove()


def test_it_chains_with_a_patch_made_before_and_undoes_only_itself() -> None:
    bh.unpatch_repr()
    original = torch.Tensor.__repr__

    def lovely(self: torch.Tensor, *args: Any, **kwargs: Any) -> str:
        return f"tensor[{self.numel()}] lovely"

    torch.Tensor.__repr__ = lovely  # type: ignore[method-assign,assignment]
    try:
        gru = torch.nn.GRU(3, 4)
        rec = bh.attach_hooks(gru)
        _, h_n = gru(torch.randn(5, 2, 3))
        bh.patch_repr()
        bh.patch_repr()  # twice is once
        assert (
            repr(h_n)
            == "(layer=1 direction=1) batch=2 hidden=4 · <GRU>.h_n · float32 cpu\ntensor[8] lovely"
        )
        assert repr(torch.ones(2)) == "tensor[2] lovely"
        bh.unpatch_repr()
        assert torch.Tensor.__repr__ is lovely
        # another patch on top of ours: unpatching leaves it, and ours passes through
        bh.patch_repr()
        ours = torch.Tensor.__repr__
        torch.Tensor.__repr__ = lambda self, *a, **k: "top " + ours(self, *a, **k)  # type: ignore[method-assign]
        bh.unpatch_repr()
        assert repr(h_n) == "top tensor[8] lovely"
        bh.patch_repr()  # the top one hides the chain: a new patch goes on top of it
        assert repr(h_n) == (
            "(layer=1 direction=1) batch=2 hidden=4 · <GRU>.h_n · float32 cpu\ntop tensor[8] lovely"
        )
        bh.unpatch_repr()
        rec.remove()
    finally:
        torch.Tensor.__repr__ = original  # type: ignore[method-assign]


SCRIPT = textwrap.dedent(
    """
    import torch, bilstm_hooks as bh
    gru = torch.nn.GRU(3, 4, bidirectional=True)
    rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": gru}))
    out, h_n = gru(torch.randn(5, 2, 3))
    {body}
    """
)


def run(body: str, stdin: str = "", **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("{body}", body)],
        input=stdin, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONBREAKPOINT": "pdb.set_trace", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pdb_p_shows_the_names() -> None:
    out = run("bh.patch_repr()\nbreakpoint()\npass", stdin="p h_n[-1]\nc\n")
    assert "batch=2 hidden=4 · encoder.h_n: backward" in out


def test_the_environment_variable_patches_every_process_that_imports_it() -> None:
    assert run("print(h_n)", BILSTM_HOOKS_REPR="1").startswith("(layer=1 direction=2) batch=2")
    assert run("print(h_n)").startswith("tensor(")


def test_a_users_mode_sees_none_of_the_patchs_reads() -> None:
    from torch.overrides import TorchFunctionMode

    class Counting(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            self.seen.append(getattr(func, "__name__", repr(func)))
            return func(*args, **(kwargs or {}))

    gru = torch.nn.GRU(3, 4)
    bh.attach_hooks(torch.nn.ModuleDict({"encoder": gru}))
    _out, h_n = gru(torch.randn(5, 2, 3))
    plain = torch.zeros(3)
    bh.patch_repr()
    try:
        with Counting() as named_mode:
            shown = repr(h_n)
        with Counting() as plain_mode:
            repr(plain)
    finally:
        bh.unpatch_repr()
    bh.unpatch_repr()
    with Counting() as torch_only:
        repr(plain)
    assert shown.startswith("(layer=1 direction=1) batch=2 hidden=4 · encoder.h_n")
    assert plain_mode.seen == torch_only.seen  # torch's own repr's ops, nothing more
    assert "_base" not in named_mode.seen


def test_tensors_found_only_by_their_storage_are_named_and_a_fresh_one_is_not(
    held: dict[str, Any],
) -> None:
    h_n = held["h_n"]
    named = {
        "detach": h_n.detach(),
        ".data": h_n.data,
        "a view of a view": h_n[-1][0:1],
        "a detached view": h_n[-1].detach(),
    }
    for how, tensor in named.items():
        first, rest = repr(tensor).split("\n", 1)
        assert first == bh.describe(tensor), how
        assert "encoder.h_n" in first, how
        assert rest == torch.Tensor.__repr__.__wrapped__(tensor), how  # type: ignore[attr-defined]
    copy = h_n.clone()  # new storage: not named, torch's text exactly
    assert repr(copy) == torch.Tensor.__repr__.__wrapped__(copy)  # type: ignore[attr-defined]


def test_the_storage_address_without_torchs_private_reader_is_the_same() -> None:
    from bilstm_hooks._core import storage_index

    tensor = torch.arange(6.0).view(2, 3)
    for related in (tensor, tensor[1:], tensor.t().detach(), tensor.data):
        assert storage_index._storage_address_of(related) == storage_index._address(tensor)
    assert storage_index._address(torch.arange(6.0)) != storage_index._address(tensor)
    assert storage_index._address(torch.eye(2).to_sparse()) == 0  # no storage: none to compare
