"""`_follow.feature_joins`: parts side by side on the last axis (`feature`), and a loop's
parts stacked (`step`), checked against the values the names claim."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

LAYERS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}


def layer(
    kind: str = "GRU", *, layers: int = 1, bi: bool = False, batch_first: bool = True
) -> nn.Module:
    torch.manual_seed(0)
    module = LAYERS[kind](3, 4, num_layers=layers, bidirectional=bi, batch_first=batch_first)
    bh.attach_hooks(nn.ModuleDict({"encoder": module}))
    return module


def pattern(tensor: torch.Tensor) -> str | None:
    found = bh.annotation_of(tensor)
    return None if found is None else found.pattern


@given(
    kind=st.sampled_from(sorted(LAYERS)),
    layers=st.integers(1, 3),
    bi=st.booleans(),
    batch_first=st.booleans(),
    extra_first=st.booleans(),
)
def test_out_beside_an_unnamed_tensor_keeps_batch_and_token(
    kind: str, layers: int, bi: bool, batch_first: bool, extra_first: bool
) -> None:
    module = layer(kind, layers=layers, bi=bi, batch_first=batch_first)
    x = torch.randn(2, 5, 3) if batch_first else torch.randn(5, 2, 3)
    out = module(x)[0]
    extra = torch.randn(*out.shape[:-1], 6)  # an embedding, say: no names
    with bh.follow():
        joined = torch.cat([extra, out] if extra_first else [out, extra], -1)
    found = bh.annotation_of(joined)
    assert found is not None
    lead = "batch token" if batch_first else "token batch"
    assert found.pattern == f"{lead} feature"
    assert found.sizes["feature"] == out.shape[-1] + 6
    # the values: position (batch b, token t) of the result holds out's (b, t) row
    part = joined[..., 6:] if extra_first else joined[..., : out.shape[-1]]
    torch.testing.assert_close(part, out, rtol=0, atol=0)
    note = [n for n in found.notes if n.startswith("feature = ")]
    assert note
    assert "6 unnamed" in note[0]
    assert "encoder.out" in note[0]


def test_final_states_of_two_layers_side_by_side_then_a_linear() -> None:
    """A decoder's state beside its attention context: `batch feature`, then Linear."""
    encoder = layer("GRU", bi=True)
    torch.manual_seed(1)
    decoder = nn.GRU(3, 5, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"decoder": decoder}))
    out, h_n = encoder(torch.randn(3, 4, 3))
    _, state = decoder(torch.randn(3, 1, 3))
    head = nn.Linear(8 + 5, 2)
    with bh.follow():
        context = torch.cat([h_n[-2], h_n[-1]], -1)  # batch (direction hidden)
        joined = torch.cat((state[-1], context), 1)
        scores = head(joined)
    assert pattern(joined) == "batch feature"
    assert pattern(scores) == "batch feature"
    found = bh.annotation_of(joined)
    assert found is not None
    assert found.origin == "parts, joined along feature"
    torch.testing.assert_close(joined[:, :5], state[-1], rtol=0, atol=0)
    torch.testing.assert_close(joined[:, 5:9], out[:, -1, :4], rtol=0, atol=0)
    torch.testing.assert_close(joined[:, 9:], out[:, 0, 4:], rtol=0, atol=0)


def test_padded_output_beside_its_embeddings_keeps_the_lengths() -> None:
    module = layer("LSTM", bi=True)
    lengths = torch.tensor([2, 5, 3])
    embedded = torch.randn(3, 5, 3)
    packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
    with bh.follow():
        out, _ = pad_packed_sequence(module(packed)[0], batch_first=True)
        joined = torch.cat([out, embedded], dim=2)
    found = bh.annotation_of(joined)
    assert found is not None
    assert found.pattern == "batch token feature"
    assert found.lengths == (2, 5, 3)
    # the padding of sequence 0 (tokens 2..4) is still padding in the out part
    assert joined[0, 2:, :8].abs().sum() == 0


def _along_batch(out: torch.Tensor, h_n: torch.Tensor) -> torch.Tensor:
    return torch.cat([out[:, -1], torch.randn(3, 4)], 0)


def _along_token(out: torch.Tensor, h_n: torch.Tensor) -> torch.Tensor:
    return torch.cat([out[:, :, 0], torch.randn(2, 3)], -1)


def _rows_differ(out: torch.Tensor, h_n: torch.Tensor) -> torch.Tensor:
    swapped = out.index_select(0, torch.tensor([1, 0]))  # named, rows in another order
    return torch.cat([out[:, -1], swapped[:, -1]], -1)


def _broadcast(out: torch.Tensor, h_n: torch.Tensor) -> torch.Tensor:
    return torch.cat([out[:, -1], h_n[-1][:1].expand(2, 4)], -1)


@pytest.mark.parametrize("join", [_along_batch, _along_token, _rows_differ, _broadcast])
def test_joins_that_are_not_features_side_by_side_give_no_names(join) -> None:  # type: ignore[no-untyped-def]
    module = layer("GRU")
    out, h_n = module(torch.randn(2, 5, 3))
    with bh.follow():
        joined = join(out, h_n)
    assert pattern(joined) is None, bh.describe(joined)


def test_a_decoders_steps_stacked_get_a_step_axis() -> None:
    module = layer("GRU")
    steps = [module(torch.randn(2, 1, 3))[0][:, 0] for _ in range(4)]  # batch hidden each
    with bh.follow():
        along_0 = torch.stack(steps)
        along_1 = torch.stack(steps, dim=1)
    assert pattern(along_0) == "step batch (direction hidden)"
    assert pattern(along_1) == "batch step (direction hidden)"
    for i, part in enumerate(steps):  # step i holds the i-th part
        torch.testing.assert_close(along_1[:, i], part, rtol=0, atol=0)
    found = bh.annotation_of(along_0)
    assert found is not None
    assert found.origin == "encoder.out, 4 steps stacked"


def test_steps_joined_along_a_unit_axis_get_a_step_axis() -> None:
    """joeynmt's `torch.cat(att_vectors, dim=1)` of `batch () feature` steps."""
    module = layer("GRU")
    head = nn.Linear(4, 6)
    with bh.follow():
        steps = [head(module(torch.randn(2, 1, 3))[1][-1]).unsqueeze(1) for _ in range(3)]
        joined = torch.cat(steps, dim=1)
    assert pattern(steps[0]) == "batch () feature"
    assert pattern(joined) == "batch step feature"
    torch.testing.assert_close(joined[:, 2], steps[2][:, 0], rtol=0, atol=0)


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(lambda out, other: [out[:, 0], out[:, 0]], id="one-tensor-twice"),
        pytest.param(lambda out, other: [out[:, 0], other[:, 0]], id="different-origins"),
        pytest.param(lambda out, other: [out[:, 0], out[:, 1].clone()], id="different-positions"),
    ],
)
def test_stacks_that_are_not_a_loops_steps_give_no_step(parts) -> None:  # type: ignore[no-untyped-def]
    module = layer("GRU")
    torch.manual_seed(2)
    other_layer = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"other": other_layer}))
    out = module(torch.randn(2, 3, 3))[0]
    other = other_layer(torch.randn(2, 3, 3))[0]
    with bh.follow():
        stacked = torch.stack(parts(out, other))
    found = bh.annotation_of(stacked)
    assert found is None or "step" not in found.dims, bh.describe(stacked)
