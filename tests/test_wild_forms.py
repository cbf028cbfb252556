"""Correct forms from public code no one here wrote stay silent; the bugs beside them warn."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import bilstm_hooks as bh


def test_a_skip_gru_whose_batch_the_caller_fused_regroups_its_rows_silently() -> None:
    # after LSTNet (laiguokun/LSTNet, models/LSTNet.py): the GRU's batch is (batch skip),
    # made by the caller's own view, and h_n.view(batch, skip * hidden) undoes it
    batch, skip, hidden, steps = 3, 3, 2, 4
    gru = nn.GRU(5, hidden)
    bh.attach_hooks(gru)
    c = torch.randn(batch, 5, steps, skip)  # batch feature step skip
    s = c.permute(2, 0, 3, 1).contiguous().view(steps, batch * skip, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bh.LayoutWarning)
        with bh.follow():
            _, h = gru(s)
            regrouped = h.view(batch, skip * hidden)
    # the values are each sequence's skip rows side by side, as LSTNet means them
    torch.testing.assert_close(regrouped[1, hidden : 2 * hidden], h[0, 1 * skip + 1])


@pytest.mark.parametrize(
    ("view", "match"),
    [
        (lambda h: h.view(6, -1), r"mixes batch with \(layer direction\)"),
        (lambda h: h[-1].view(4, 6), r"mixes batch with hidden"),
    ],
)
def test_views_that_mix_sequences_still_warn(view: object, match: str) -> None:
    gru = nn.GRU(3, 4, bidirectional=True)
    bh.attach_hooks(gru)
    with bh.follow():
        _, h = gru(torch.randn(5, 6, 3))
        with pytest.warns(bh.LayoutWarning, match=match):
            view(h)  # type: ignore[operator]
