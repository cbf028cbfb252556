"""`_follow.packed_rows`: a PackedSequence's data rows followed (`packed ...`), padded back
(`batch token ...`), checked against the values."""

from __future__ import annotations

import warnings

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

LAYERS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}
LENGTHS = torch.tensor([3, 5, 1, 4])  # unsorted


def pattern(tensor: torch.Tensor) -> str | None:
    found = bh.annotation_of(tensor)
    return None if found is None else found.pattern


def hooked(kind: str, *, layers: int = 1, bi: bool = False, batch_first: bool = True) -> nn.Module:
    torch.manual_seed(0)
    module = LAYERS[kind](3, 4, num_layers=layers, bidirectional=bi, batch_first=batch_first)
    bh.attach_hooks(nn.ModuleDict({"words": module}))
    return module


def packed_input(batch_first: bool) -> PackedSequence:
    x = torch.randn(4, 5, 3) if batch_first else torch.randn(5, 4, 3)
    return pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False)


@given(
    kind=st.sampled_from(sorted(LAYERS)),
    layers=st.integers(1, 3),
    bi=st.booleans(),
    batch_first=st.booleans(),
    pad_batch_first=st.booleans(),
)
def test_attention_scores_over_packed_rows_pad_back_to_batch_token(
    kind: str, layers: int, bi: bool, batch_first: bool, pad_batch_first: bool
) -> None:
    """HAN's word attention: score `packed_out.data`, re-wrap, pad, normalise."""
    module = hooked(kind, layers=layers, bi=bi, batch_first=batch_first)
    width = 8 if bi else 4
    score = nn.Linear(width, 1)
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("error")  # the sum over zero padding is exact: no warning
        packed_out, _ = module(packed_input(batch_first))
        scores = torch.exp(score(packed_out.data).squeeze(1))
        rewrapped = PackedSequence(
            scores,
            packed_out.batch_sizes,
            packed_out.sorted_indices,
            packed_out.unsorted_indices,
        )
        padded_scores, _lengths = pad_packed_sequence(rewrapped, batch_first=pad_batch_first)
        alphas = padded_scores / padded_scores.sum(dim=0 + pad_batch_first, keepdim=True)
    assert pattern(scores) == "packed"
    assert bh.annotation_of(scores).sizes == {"packed": int(LENGTHS.sum())}  # type: ignore[union-attr]
    wanted = "batch token" if pad_batch_first else "token batch"
    assert pattern(padded_scores) == wanted
    assert pattern(alphas) == wanted
    assert bh.annotation_of(padded_scores).lengths == tuple(LENGTHS.tolist())  # type: ignore[union-attr]
    # the values: position (b, t) holds the score of sequence b's token t, padding zeros
    out, _ = pad_packed_sequence(packed_out, batch_first=True)
    expected = torch.exp(score(out).squeeze(2))
    by_batch = padded_scores if pad_batch_first else padded_scores.T
    for b, n in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(by_batch[b, :n], expected[b, :n])
        assert torch.equal(by_batch[b, n:], torch.zeros(5 - n))


def test_a_named_padded_tensor_packed_again_has_packed_rows() -> None:
    """ESPnet's RNNP: a Linear projection of one layer's padded output, packed for the next."""
    first = hooked("LSTM", bi=True)
    torch.manual_seed(1)
    second = nn.LSTM(6, 4, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"second": second}))
    project = nn.Linear(8, 6)
    with bh.follow():
        out, _ = pad_packed_sequence(first(packed_input(True))[0], batch_first=True)
        projected = torch.tanh(project(out))
        repacked = pack_padded_sequence(projected, LENGTHS, batch_first=True, enforce_sorted=False)
        again, _ = pad_packed_sequence(repacked, batch_first=True)
    assert pattern(projected) == "batch token feature"
    assert pattern(repacked.data) == "packed feature"
    assert pattern(again) == "batch token feature"
    torch.testing.assert_close(again, projected * (torch.arange(5) < LENGTHS[:, None])[..., None])
    second(repacked)  # the next layer takes it as any PackedSequence
    assert bh.annotation_of(second(repacked)[0]) is not None


def test_rows_not_from_a_layer_or_not_padded_names_stay_unnamed() -> None:
    module = hooked("GRU", batch_first=False)
    with bh.follow():
        plain = pack_padded_sequence(
            torch.randn(4, 5, 3), LENGTHS, batch_first=True, enforce_sorted=False
        )
        out, _ = module(packed_input(False))
        padded, _ = pad_packed_sequence(out)  # token batch (direction hidden)
        # packed as if batch-first, but its first axis is token: no names, not `packed`
        wrong_way = pack_padded_sequence(padded, torch.tensor([4, 4, 3, 2, 1]), batch_first=True)
    assert pattern(plain.data) is None
    assert pattern(padded) == "token batch (direction hidden)"
    assert pattern(wrong_way.data) is None
    assert pattern(out.data) == "packed (direction hidden)"  # a row per valid token
    assert bh.annotation_of(out.data).sizes["packed"] == int(LENGTHS.sum())  # type: ignore[union-attr]
