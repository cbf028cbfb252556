"""`cat` of equally named parts of different tensors (`_join`): a decoder's steps along
`token`, batches along `batch`; checked against the values, and silent where unsure.

The values: the joined tensor, rearranged by its names to `batch token direction hidden`,
holds at each joined position what the part there holds (at token k, call k's output).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._follow.joins import calls_joined
from bilstm_hooks._names.layout import Axes

KINDS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}
B, FEATURES, HIDDEN, STEPS = 3, 2, 4, 5


def names(tensor: Any) -> bh.AnnotatedTensor:
    found = bh.annotation_of(tensor)
    assert found is not None, "unnamed"
    return found


def steps_of(layer: nn.Module, *, batch_first: bool, steps: int = STEPS) -> list[torch.Tensor]:
    """A decoder's loop: one call a step, on one token, its state carried to the next."""
    state = None
    outputs = []
    for _ in range(steps):
        x = torch.randn(B, 1, FEATURES) if batch_first else torch.randn(1, B, FEATURES)
        out, state = layer(x, state)
        outputs.append(out)
    return outputs


def canonical(annotated: bh.AnnotatedTensor) -> torch.Tensor:
    """`batch token direction hidden`, whatever the order of the axes."""
    return annotated.rearrange("batch token direction hidden").tensor


@pytest.fixture
def hooked() -> Iterator[Any]:
    recorders: list[bh.Recorder] = []

    def hook(model: nn.Module, **kwargs: Any) -> bh.Recorder:
        recorders.append(bh.attach_hooks(model, **kwargs))
        return recorders[-1]

    torch.manual_seed(0)
    yield hook
    for rec in recorders:
        rec.remove()


# -- a decoder's steps, along token ----------------------------------------------------------
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-major"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_decoders_steps_joined_along_token(
    hooked: Any, kind: str, batch_first: bool, bidirectional: bool
) -> None:
    layer = KINDS[kind](FEATURES, HIDDEN, batch_first=batch_first, bidirectional=bidirectional)
    hooked(nn.ModuleDict({"decoder": layer}))
    outputs = steps_of(layer, batch_first=batch_first)
    token = 1 if batch_first else 0
    with bh.follow():
        joined = torch.cat(outputs, dim=token)
    found = names(joined)
    step = names(outputs[0])
    assert found.pattern == step.pattern
    assert found.sizes == {**step.sizes, "token": STEPS}
    assert found.origin == f"decoder.out, {STEPS} parts joined along token"
    assert (found.at, found.sliced, found.notes, found.lengths) == ({}, {}, (), None)
    whole = canonical(found)
    for k, out in enumerate(outputs):  # at token k: call k's output
        assert torch.equal(whole[:, k], canonical(names(out))[:, 0])


def test_a_seq2seq_decoder_with_a_head_under_follow_hooks(hooked: Any) -> None:
    """As PyTorch's attention seq2seq tutorial: `cat(step_outputs, 1)`, then log_softmax."""

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(FEATURES, HIDDEN, batch_first=True)
            self.out = nn.Linear(HIDDEN, 7)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hidden, outputs = None, []
            for i in range(x.shape[1]):
                output, hidden = self.gru(x[:, i : i + 1], hidden)
                outputs.append(self.out(output))
            return F.log_softmax(torch.cat(outputs, dim=1), dim=-1)

    model = Decoder()
    hooked(model, follow=True)
    x = torch.randn(B, STEPS, FEATURES)
    result = model(x)
    found = names(result)
    assert found.pattern == "batch token feature"
    assert found.sizes == {"batch": B, "token": STEPS, "feature": 7}
    assert found.origin == f"gru.out, through a Linear layer, {STEPS} parts joined along token"
    with torch.no_grad():  # the values: the same steps, one at a time
        hidden = None
        for k in range(STEPS):
            output, hidden = model.gru(x[:, k : k + 1], hidden)
            expected = F.log_softmax(model.out(output), dim=-1)
            torch.testing.assert_close(result[:, k], expected[:, 0])


# -- along batch -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-major"])
@pytest.mark.parametrize("kind", KINDS)
def test_two_batches_joined_along_batch(hooked: Any, kind: str, batch_first: bool) -> None:
    layer = KINDS[kind](FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    layer.batch_first = batch_first
    hooked(nn.ModuleDict({"encoder": layer}))
    shape = (2, 6, FEATURES) if batch_first else (6, 2, FEATURES)
    first, second = layer(torch.randn(shape)), layer(torch.randn(shape))
    batch = 0 if batch_first else 1
    with bh.follow():
        out = torch.cat([first[0], second[0]], dim=batch)
        ends = [o.select(1 - batch, -1)[..., :HIDDEN] for o in (first[0], second[0])]
        forward_ends = torch.cat(ends, 0)  # the forward half at the last token: no warning
    found = names(out)
    assert found.sizes["batch"] == 4
    assert found.origin == "encoder.out, 2 parts joined along batch"
    whole = canonical(found)
    assert torch.equal(whole[:2], canonical(names(first[0])))
    assert torch.equal(whole[2:], canonical(names(second[0])))
    last = names(forward_ends)
    assert (last.pattern, last.at) == ("batch hidden", {"token": 5, "direction": 0})
    assert last.notes == ("forward direction only",)
    assert torch.equal(forward_ends[2:], ends[1])


def test_padded_batches_join_their_lengths_along_batch_and_note_the_rows_again(
    hooked: Any,
) -> None:
    lstm = nn.LSTM(FEATURES, HIDDEN, bidirectional=True, batch_first=True)
    hooked(nn.ModuleDict({"encoder": lstm}))
    padded = []
    for lengths in ([4, 6, 2], [6, 3, 1]):
        x = torch.randn(3, 6, FEATURES)
        out, _ = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        with bh.follow():
            padded.append(pad_packed_sequence(out, batch_first=True)[0])
    columns = [p[:, 3] for p in padded]  # not followed: taking them would warn, rightly
    with bh.follow():
        both = torch.cat(padded, 0)
        at_3 = torch.cat(columns, 0)
        along_token = torch.cat(padded, 1)
    found = names(both)
    assert found.lengths == (4, 6, 2, 6, 3, 1)
    assert found.origin == "encoder.out, padded, 2 parts joined along batch"
    assert torch.equal(both[5, 1:], torch.zeros(5, 2 * HIDDEN))  # row 5: one token
    assert names(padded[1][:, 3]).notes == ("rows 1, 2 are padding",)
    assert names(at_3).notes == ("rows 2, 4, 5 are padding",)  # rows of the whole batch
    assert bh.annotation_of(along_token) is None  # padding in the middle of the tokens


# -- silent where unsure ---------------------------------------------------------------------
def test_parts_that_differ_are_not_joined(hooked: Any) -> None:
    encoder = nn.GRU(FEATURES, HIDDEN, batch_first=True)
    decoder = nn.GRU(FEATURES, HIDDEN, batch_first=True)
    hooked(nn.ModuleDict({"encoder": encoder, "decoder": decoder}))
    a, b = steps_of(decoder, batch_first=True, steps=2)
    (other,) = steps_of(encoder, batch_first=True, steps=1)
    long_a, _ = decoder(torch.randn(B, 6, FEATURES))
    long_b, _ = decoder(torch.randn(B, 6, FEATURES))
    with bh.follow():
        unnamed = [
            torch.cat([a, other], 1),  # two modules
            torch.cat([a, a], 1),  # the same data twice
            torch.cat([long_a[:, -1:], long_b[:, -1:]], 1),  # each the last token of its own
            torch.cat([a, torch.zeros(B, 1, HIDDEN)], 1),  # a part unnamed
            torch.cat([long_a[:, 2], long_b[:, 3]], 0),  # at different tokens
        ]
        copied = torch.cat([a, b * 2], 1)  # b's names, copied: still parts of one origin
        stacked = torch.stack([a, b], 1)  # a new axis: the loop's steps (feature_joins)
        side_by_side = torch.cat([a, b], -1)  # along hidden: features (feature_joins)
    assert [bh.annotation_of(t) for t in unnamed] == [None] * len(unnamed)
    assert names(copied).origin == "decoder.out, 2 parts joined along token"
    assert names(stacked).pattern == "batch step token (direction hidden)"
    assert names(side_by_side).pattern == "batch token feature"


def test_same_labels_different_sizes_are_not_joined(hooked: Any) -> None:
    """Two models' `decoder`s: one label, (direction=2 hidden=4) and (direction=1 hidden=8)."""
    bi = nn.GRU(FEATURES, HIDDEN, batch_first=True, bidirectional=True)
    uni = nn.GRU(FEATURES, 2 * HIDDEN, batch_first=True)
    hooked(nn.ModuleDict({"decoder": bi}))
    hooked(nn.ModuleDict({"decoder": uni}))
    (a,), (b,) = steps_of(bi, batch_first=True, steps=1), steps_of(uni, batch_first=True, steps=1)
    assert names(a).origin == names(b).origin == "decoder.out"
    with bh.follow():
        assert bh.annotation_of(torch.cat([a, b], 1)) is None


def _part(batch: int, lengths: tuple[int, ...] | None) -> bh.AnnotatedTensor:
    axes = Axes(
        (("batch",), ("token",), ("hidden",)), (("batch", batch), ("token", 2), ("hidden", 4))
    )
    return bh.AnnotatedTensor(torch.zeros(batch, 2, 4), axes, "encoder.out", lengths=lengths)


def test_lengths_along_batch_only_where_every_part_has_them() -> None:
    both = calls_joined([_part(2, (2, 1)), _part(1, (2,))], 0, stack=False)
    assert both is not None
    assert both.lengths == (2, 1, 2)
    one = calls_joined([_part(2, (2, 1)), _part(1, None)], 0, stack=False)
    assert one is not None
    assert one.lengths is None
    assert calls_joined([_part(2, (2, 1)), _part(2, None)], 1, stack=False) is None
    assert calls_joined([_part(2, None), _part(2, None)], 1, stack=False) is not None
    assert calls_joined([_part(2, None), _part(2, None)], 3, stack=False) is None
    assert calls_joined([_part(2, None), _part(2, None)], 0, stack=True) is None  # a new axis
