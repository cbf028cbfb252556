"""The seed model of DESIGN.md, called once and recorded: shared by the unroll view tests."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh


def seed_record(lengths: list[int] | None = None) -> bh.Record:
    """The seed model on one sequence of 6 tokens, or on a packed batch of `lengths`."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()
    with bh.attach_hooks(nn.ModuleDict({"encoder": lstm})) as rec:
        if lengths is None:
            lstm(torch.randn(1, 6, 3))
        else:
            x = torch.randn(len(lengths), max(lengths), 3)
            lstm(pack_padded_sequence(x, torch.tensor(lengths), batch_first=True,
                                      enforce_sorted=False))  # fmt: skip
    return rec["encoder"]
