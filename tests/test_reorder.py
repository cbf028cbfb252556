"""Batch rows reordered or picked while following keep the sequence they hold.

`AnnotatedTensor.sequences` says which row of the original each batch row holds; a row
taken from such a tensor is labelled by that row (`.at["batch"]`, `sequence N`), never
by its new place, and where it cannot be known the label is dropped. The element-id
chains of `test_follow_chains.py` check the same over drawn chains of ops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._follow import batch_rows as _rows


@pytest.fixture
def padded() -> Iterator[Any]:
    """A padded, followed out of lengths (4, 6, 2) and its h_n, under `bh.follow()`."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(3, 6, 3)
    out, (h_n, _) = lstm(pack_padded_sequence(x, [4, 6, 2], batch_first=True, enforce_sorted=False))
    with bh.follow():
        padded, _lengths = pad_packed_sequence(out, batch_first=True)
        yield padded, h_n, x
    rec.remove()


def names(tensor: Any) -> bh.AnnotatedTensor:
    found = bh.annotation_of(tensor)
    assert found is not None, "unnamed"
    return found


def test_pad_packed_sequence_gives_the_rows_in_the_callers_order(padded: Any) -> None:
    out, _, _ = padded
    found = names(out)
    assert found.sequences is None
    assert found.lengths == (4, 6, 2)
    assert not any("order" in note for note in found.notes)
    assert names(out[2]).at == {"batch": 2}


def test_a_reordered_batch_says_which_sequence_each_row_holds(padded: Any) -> None:
    out, _, _ = padded
    order = torch.tensor([2, 0])
    picked = out[order]
    found = names(picked)
    assert found.sequences == (2, 0)
    assert found.lengths == (2, 4)
    assert "batch order: sequences 2, 0" in found.notes
    assert torch.equal(picked[0], out[2])
    row = names(picked[0, 3])
    assert row.at == {"batch": 2, "token": 3}
    assert "padding: sequence 2 has 2 tokens" in row.notes
    assert "token 3, sequence 2" in bh.describe(picked[0, 3])


def test_a_row_of_a_slice_is_labelled_by_the_row_it_holds(padded: Any) -> None:
    out, _, _ = padded
    row = names(out[1:].clone()[1, 3])  # a copy of a slice: its own names, composed
    assert row.at == {"batch": 2, "token": 3}
    assert "padding: sequence 2 has 2 tokens" in row.notes


def test_reorders_compose_with_slices_and_with_each_other(padded: Any) -> None:
    out, h_n, _ = padded
    twice = out[torch.tensor([2, 0, 1])][[1, 2]]  # rows 0, 1
    assert names(twice).sequences == (0, 1)
    assert torch.equal(twice, out[:2])
    sliced = out[1:].index_select(0, torch.tensor([1, 0]))  # rows 2, 1
    assert names(sliced).sequences == (2, 1)
    assert names(sliced[0]).at == {"batch": 2}
    strided = out[torch.tensor([2, 1, 0])][::2]  # rows 2, 0
    assert names(strided).sequences == (2, 0)
    assert names(strided).sliced == {}
    assert names(h_n[:, [2, 0]].transpose(0, 1)[1]).at["batch"] == 0


def test_an_index_on_another_device_drops_the_label_never_guesses(
    padded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _, _ = padded
    reordered = out[torch.tensor([2, 0, 1])]
    # a CUDA index cannot be read without a device sync: as if the index were unknown
    source = names(out)
    _rows.reordered(source, 0, None, reordered)
    found = names(reordered)
    assert found.sequences == (None, None, None)
    assert found.lengths is None
    assert "batch rows reordered: which sequence each holds is not known" in found.notes
    row = names(reordered[0])
    assert "batch" not in row.at
    assert "sequence" not in bh.describe(reordered[0])


def test_operands_of_different_orders_give_no_names(padded: Any) -> None:
    out, _, _ = padded
    assert bh.annotation_of(out[[1, 0, 2]] + out) is None
    assert bh.annotation_of(out[[1, 0, 2]] + out[[1, 0, 2]]) is not None


def test_a_reduction_over_batch_forgets_the_order(padded: Any) -> None:
    out, _, _ = padded
    found = names(out[[2, 0]].sum(0))
    assert found.sequences is None
    assert not any("order" in note for note in found.notes)


def test_a_join_along_batch_names_the_rows_of_the_whole() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"decoder": gru}))
    first, _ = gru(torch.randn(2, 5, 3))
    second, _ = gru(torch.randn(2, 5, 3))
    with bh.follow():
        joined = torch.cat([first[[1, 0]], second[[1, 0]]], 0)
    found = names(joined)
    assert found.origin == "decoder.out, 2 parts joined along batch"
    assert found.sequences is None
    rec.remove()
