"""The rules appended at the end of `_rules.py`, one test each, checked against the values."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._follow.rules import RULES, bmm_rule, norm_rule


def encoder(batch_first: bool = True) -> tuple[nn.GRU, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, batch_first=batch_first)
    bh.attach_hooks(nn.ModuleDict({"encoder": gru}))
    out, h_n = gru(torch.randn(3, 5, 3))
    return gru, out, h_n


def test_the_rules_are_in_the_table() -> None:
    assert RULES[F.batch_norm] is norm_rule
    assert RULES[torch.bmm] is bmm_rule
    assert RULES[torch.Tensor.__matmul__] is bmm_rule


def test_batch_norm_keeps_the_names_of_its_input() -> None:
    """A sequence-wise BatchNorm1d (DeepSpeech's), on `(token batch) hidden`."""
    _, out, _ = encoder(batch_first=False)
    norm = nn.BatchNorm1d(4)
    with bh.follow():
        flat = out.view(-1, 4)
        normed = norm(flat)
        again = normed.view(3, 5, 4)
    found = bh.annotation_of(normed)
    assert found is not None
    assert found.pattern == "(token batch) (direction hidden)"
    assert found.origin == "encoder.out"
    assert bh.annotation_of(again).pattern == "token batch (direction hidden)"  # type: ignore[union-attr]
    # the values: each hidden unit normalised over every (token, batch) row, nothing moved
    expected = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + norm.eps)
    torch.testing.assert_close(normed, expected)


def test_bmm_over_a_shared_name_is_attention() -> None:
    """`bmm(weights, keys)` of the attention seq2seq: `batch 1 token` @ `batch token hidden`."""
    _, out, _ = encoder()
    head = nn.Linear(4, 1)
    with bh.follow():
        scores = head(out)  # batch token feature=1
        weights = F.softmax(scores.squeeze(2).unsqueeze(1), dim=-1)  # batch () token
        context = torch.bmm(weights, out)
        same = weights @ out
    found = bh.annotation_of(context)
    assert found is not None
    assert found.pattern == "batch () (direction hidden)"  # the new axis: not feature's
    assert found.sizes == {"batch": 3, "direction": 1, "hidden": 4}
    assert found.origin == "encoder.out, weighted over token"
    assert bh.describe(same) == bh.describe(context)
    # the values: batch row b of the context is a weighted sum of sequence b's tokens only
    for b in range(3):
        torch.testing.assert_close(context[b, 0], (weights[b, 0, :, None] * out[b]).sum(0))


def test_bmm_names_nothing_it_cannot_know() -> None:
    _, out, _ = encoder()
    with bh.follow():
        plain = torch.bmm(torch.rand(3, 1, 5), out)  # weights of unknown layout
        self_scores = out @ out.transpose(1, 2)  # batch token token: ambiguous
        other = torch.rand(4, 2) @ torch.rand(2, 3)
    assert bh.annotation_of(plain) is None
    assert bh.annotation_of(self_scores) is None
    assert bh.annotation_of(other) is None
