"""Reductions over the tokens of a padded output warn only where the padding changes the
value (checked on the values): the correct forms real code uses stay silent, and each
warning's advice fits its op."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

LENGTHS = torch.tensor([6, 2, 4])  # unsorted, unequal
NEG_INF = float("-inf")


def valid(out: torch.Tensor, lengths: torch.Tensor, batch_first: bool) -> torch.Tensor:
    """The mask of valid tokens, shaped to broadcast over `out`'s last axis."""
    tokens = out.shape[1 if batch_first else 0]
    mask = torch.arange(tokens)[None] < lengths[:, None]  # batch token
    return (mask if batch_first else mask.T).unsqueeze(-1)


CORRECT: dict[str, Callable[..., Any]] = {
    "plain sum over zero padding": lambda out, m, t, n: out.sum(t),
    "sum divided by the lengths": lambda out, m, t, n: out.sum(t) / n[:, None],
    "masked mean": lambda out, m, t, n: (out * m).sum(t) / m.sum(t),
    "masked mean, float mask": lambda out, m, t, n: (out * m.float()).sum(t) / n[:, None].float(),
    "masked_fill -inf, then max": lambda out, m, t, n: out.masked_fill(~m, NEG_INF).max(t)[0],
    "where -inf, then amax": lambda out, m, t, n: torch.where(m, out, NEG_INF).amax(t),
    "masked_fill -inf, then logsumexp": lambda out, m, t, n: out.masked_fill(~m, NEG_INF).logsumexp(
        t
    ),
}
BUGS: dict[str, tuple[Callable[..., Any], str]] = {
    "mean over the padding": (lambda out, m, t, n: out.mean(t), r"Divide the sum over valid"),
    "max over zero padding": (lambda out, m, t, n: out.max(t)[0], r"Set the padding to -inf"),
    "sum over padding of ones": (lambda out, m, t, n: (out + 1).sum(t), r"Zero the padding"),
}


def padded(kind: str, batch_first: bool) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, bidirectional=True, batch_first=batch_first)
    bh.attach_hooks(layer)
    x = torch.randn(3, 6, 3) if batch_first else torch.randn(6, 3, 3)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
    out, _ = layer(packed)
    return out, LENGTHS


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("form", list(CORRECT))
def test_a_correct_reduction_over_padded_tokens_is_silent_and_named(
    kind: str, batch_first: bool, form: str
) -> None:
    packed_out, _ = padded(kind, batch_first)
    token = 1 if batch_first else 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", bh.LayoutWarning)
        with bh.follow():
            out, n = pad_packed_sequence(packed_out, batch_first=batch_first)
            result = CORRECT[form](out, valid(out, n, batch_first), token, n)
    # the oracle: each row reduced over its own valid tokens only
    for row, length in enumerate(n.tolist()):
        tokens = out[row, :length] if batch_first else out[:length, row]
        if "max" in form or "amax" in form:
            wanted = tokens.amax(0)
        elif "logsumexp" in form:
            wanted = tokens.logsumexp(0)
        elif "sum" in form and "divided" not in form and "mean" not in form:
            wanted = tokens.sum(0)
        else:
            wanted = tokens.mean(0)
        torch.testing.assert_close(result[row], wanted)
    named = bh.annotation_of(result)
    assert named is not None
    assert named.pattern == "batch (direction hidden)"


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_reduction_the_padding_changes_warns_with_advice_for_its_op(
    batch_first: bool, bug: str
) -> None:
    packed_out, _ = padded("LSTM", batch_first)
    make, advice = BUGS[bug]
    token = 1 if batch_first else 0
    with bh.follow():
        out, n = pad_packed_sequence(packed_out, batch_first=batch_first)
        with pytest.warns(bh.LayoutWarning, match=r"the padding is in it\. " + advice):
            make(out, valid(out, n, batch_first), token, n)
