"""Hooked models called from several threads while their records are read.

`sys.setswitchinterval(1e-6)` makes the interpreter switch threads after almost
every bytecode, so that races which are rare at the default interval show up in
every run: on main before the registry lock, these tests raised `dictionary
changed size during iteration` from the sweep, lost calls and duplicated records.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry
from bilstm_hooks._core import storage_index as _storage_look

THREADS = 4
CALLS = 150  # per thread


@pytest.fixture
def fast_switches() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(work: Callable[[int], None], readers: int = 0, read: Any = None) -> list[str]:
    """Run `work(i)` in THREADS threads (and `read()` in a loop in `readers` more,
    until the workers are done); return every exception raised, as text."""
    errors: list[str] = []
    done = threading.Event()

    def guarded(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:  # every failure is the test's result
            errors.append(f"{type(exc).__name__}: {exc}")

    def reader() -> None:
        while not done.is_set():
            read()

    workers = [
        threading.Thread(target=guarded, args=(lambda i=i: work(i),)) for i in range(THREADS)
    ]
    watchers = [threading.Thread(target=guarded, args=(reader,)) for _ in range(readers)]
    for thread in watchers + workers:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    for thread in watchers:
        thread.join()
    return errors


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.decoder = nn.GRU(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.decoder(out.transpose(0, 1))[1]


@pytest.mark.usefixtures("fast_switches")
def test_concurrent_calls_and_reads_lose_nothing_and_raise_nothing() -> None:
    torch.manual_seed(0)
    model = TwoLayers()
    rec = bh.attach_hooks(model, history=THREADS * CALLS)
    x = torch.randn(2, 5, 3)
    held: list[Any] = []

    def work(_: int) -> None:
        for _ in range(CALLS):
            with torch.no_grad():
                model(x)

    def read() -> None:
        if rec.calls("encoder"):
            record = rec["encoder"]
            held.append(bh.annotation_of(record.out.tensor))
            rec.last.h_n  # noqa: B018
            rec.records("decoder")
            bh.describe(rec)
        del held[:-4]

    errors = run_threads(work, readers=2, read=read)
    assert errors == []
    assert rec.calls("encoder") == rec.calls("decoder") == THREADS * CALLS
    for name in rec.names:
        records = rec.records(name)
        assert len(records) == THREADS * CALLS
        assert len({id(r) for r in records}) == len(records)  # none duplicated
        assert all(r.name == name for r in records)


@pytest.mark.usefixtures("fast_switches")
def test_concurrent_calls_keep_every_output_annotated_while_the_registry_sweeps() -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    rec = bh.attach_hooks(lstm, history=1)
    missing: list[str] = []

    def work(i: int) -> None:
        x = torch.randn(5, i + 1, 3)  # a batch size per thread: each its own layout
        for _ in range(CALLS):
            out, (h_n, c_n) = lstm(x)  # grad mode: detached copies are kept
            for tensor, role in ((out, "out"), (h_n, "h_n"), (c_n, "c_n")):
                found = bh.annotation_of(tensor)
                if found is None or found.sizes.get("batch") != i + 1:
                    missing.append(role)

    gc.collect()  # the recorders of earlier tests, in reference cycles with their models
    errors = run_threads(work)
    assert errors == []
    assert missing == []
    assert rec.calls(lstm) == THREADS * CALLS
    assert len(rec.records(lstm)) == 1
    assert _registry.size() <= 2 * _registry._MIN_SWEEP  # swept meanwhile: it stays bounded


@pytest.mark.usefixtures("fast_switches")
def test_last_is_always_a_complete_record_of_a_finished_call() -> None:
    torch.manual_seed(0)
    model = TwoLayers()
    rec = bh.attach_hooks(model)
    x = torch.randn(2, 5, 3)
    seen: set[str] = set()

    def work(_: int) -> None:
        for _ in range(CALLS):
            with torch.no_grad():
                model(x)

    def read() -> None:
        try:
            last = rec.last
        except LookupError:
            return
        seen.add(last.name)
        last.check()  # a record read under threads is whole: its identities hold

    errors = run_threads(work, readers=1, read=read)
    assert errors == []
    assert seen <= {"encoder", "decoder"}
    assert rec.last.name == "decoder"  # the last call of the last forward


def test_clear_while_other_threads_call_never_raises() -> None:
    lstm = nn.GRU(3, 4)
    rec = bh.attach_hooks(lstm, history=3)
    x = torch.randn(4, 2, 3)

    def work(_: int) -> None:
        for _ in range(CALLS):
            with torch.no_grad():
                lstm(x)

    def read() -> None:
        rec.clear()
        try:
            rec[lstm].out  # noqa: B018
        except LookupError as exc:
            if "cleared by clear()" not in str(exc) and "not been called" not in str(exc):
                raise

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        errors = run_threads(work, readers=1, read=read)
    finally:
        sys.setswitchinterval(before)
    assert errors == []
    assert rec.calls(lstm) == THREADS * CALLS


def test_the_storage_index_sees_a_tensor_tagged_under_a_reused_id() -> None:
    """An entry replaced under a dead tensor's id keeps the table's size and order:
    the index of `sharing()` must notice it all the same (it counts writes)."""
    from bilstm_hooks._core.registry import Named
    from bilstm_hooks._names.layout import Axes

    axes = Axes((("token",), ("hidden",)), (("token", 5), ("hidden", 4)))
    with torch.inference_mode():
        first = torch.zeros(5, 4)
    _registry.tag(first, Named(axes, "first"))
    assert len(_storage_look.sharing(first[0])) == 1  # builds the index
    reused = id(first)
    del first
    second, kept = None, []  # kept alive, the candidates fill the allocator's free slots
    for _ in range(200_000):  # until one is the dead tensor's: in the first few, mostly
        with torch.inference_mode():
            candidate = torch.ones(5, 4)
        if id(candidate) == reused:
            second = candidate
            break
        kept.append(candidate)
    assert second is not None, "no tensor was made at the dead tensor's address"
    del kept
    _registry.tag(second, Named(axes, "second"))
    found = _storage_look.sharing(second[0])
    assert [value.origin for value, _ in found] == ["second"]


@pytest.mark.usefixtures("fast_switches")
def test_no_call_noted_while_the_registry_flushes_is_lost() -> None:
    """The hooks note calls without a lock while other threads flush the notes: each
    thread runs the hook itself on fresh tensors, as fast as it can, to make them meet."""
    rnn = nn.RNN(3, 4)
    rec = bh.attach_hooks(rnn)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        out, h_n = rnn(x)
    hook = rec._hooks[""]
    made: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(THREADS)]

    def work(i: int) -> None:
        for _ in range(10 * CALLS):
            output = (out.clone(), h_n.clone())
            hook.record(rnn, (x,), {}, output)
            made[i].append(output)  # alive: each must be written

    errors = run_threads(work, readers=2, read=_registry.flush)
    assert errors == []
    assert rec.calls(rnn) == 1 + THREADS * 10 * CALLS
    lost = [t for calls in made for call in calls for t in call if _registry.lookup(t) is None]
    assert lost == []
