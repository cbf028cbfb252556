"""The registry's batched writes: the hooks note calls in `PENDING`, `flush()` writes them.

What must hold: nothing pending is missed by a reader, a later tag is never overwritten by
an older call's note, the notes keep no tensor alive, and dead tensors are never stored.
"""

from __future__ import annotations

import gc
import weakref
from collections import deque
from typing import Any

import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry


def test_every_kept_output_of_more_calls_than_a_batch_is_named_as_its_own_call() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(gru)
    calls = 3 * _registry.FLUSH_AT + 5  # flushed by the hook three times, then by the reader
    kept = [gru(torch.randn(1 + i % 7, 2, 3)) for i in range(calls)]
    for i, (out, h_n) in enumerate(kept):
        assert bh.annotation_of(out).sizes["batch"] == 1 + i % 7
        assert bh.annotation_of(h_n).sizes["batch"] == 1 + i % 7
        assert bh.annotation_of(out[:, -1]).sizes["batch"] == 1 + i % 7  # a view of a view


def test_a_tag_written_after_a_call_wins_over_the_calls_pending_note() -> None:
    lstm = nn.LSTM(3, 4)
    bh.attach_hooks(lstm)
    first, _ = lstm(torch.randn(5, 2, 3))
    axes = bh.annotation_of(first).axes  # type: ignore[union-attr]  # read: flushed
    out, _ = lstm(torch.randn(5, 2, 3))
    assert len(_registry.PENDING) == 1  # noted, not yet written
    named = _registry.Named(axes, "relabelled")
    _registry.tag(out, named)
    assert _registry.find(out) == (named, None, True)


def test_pending_notes_keep_no_tensor_alive_and_dead_ones_are_never_stored() -> None:
    rnn = nn.RNN(3, 4, num_layers=2)
    bh.attach_hooks(rnn, history=1)
    gc.collect()
    _registry.flush()
    stored = _registry.stored()
    out, h_n = rnn(torch.randn(5, 2, 3))
    refs = [weakref.ref(out), weakref.ref(h_n)]
    assert len(_registry.PENDING) == 1
    del out, h_n
    rnn(torch.randn(5, 2, 3))  # the record now holds this call, not the first
    assert [ref() for ref in refs] == [None, None]  # pending, and gone
    assert _registry.stored() <= stored  # flushed: neither call's tensors are alive
    assert not _registry.PENDING


def test_a_flush_nested_in_a_flush_writes_every_note_once(monkeypatch: Any) -> None:
    """A finalizer run by the garbage collector inside a flush may tag, which flushes."""
    lstm = nn.LSTM(3, 4, batch_first=True)
    bh.attach_hooks(lstm)
    first, _ = lstm(torch.randn(2, 5, 3))
    named = _registry.Named(bh.annotation_of(first).axes, "elsewhere")  # type: ignore[union-attr]
    other = torch.zeros(2, 5, 4)

    nested: list[bool] = []

    class Nesting(deque):  # type: ignore[type-arg]
        def append(self, held: Any) -> None:  # the flush notes a batch-first out here
            super().append(held)
            if not nested:  # as a finalizer runs: once
                nested.append(True)
                _registry.tag(other, named)  # in a flush: a nested one

    kept = [lstm(torch.randn(2, 5, 3)) for _ in range(3)]
    assert len(_registry.PENDING) == 3
    monkeypatch.setattr(_registry, "VIEWS", Nesting(maxlen=64))
    _registry.flush()
    assert nested
    assert not _registry.PENDING
    for out, (h_n, c_n) in kept:
        assert [_registry.lookup(t) is not None for t in (out, h_n, c_n)] == [True] * 3
    assert _registry.find(other) == (named, None, True)
