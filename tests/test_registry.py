"""The registry's batched writes: the hooks note calls in `PENDING`, `flush()` writes them.

What must hold: nothing pending is missed by a reader, a later tag is never overwritten by
an older call's note, the notes keep no tensor alive, and dead tensors are never stored.
"""

from __future__ import annotations

import gc
import weakref

import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks import _registry


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
