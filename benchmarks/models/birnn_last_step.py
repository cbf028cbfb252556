"""A many-to-one bidirectional LSTM classifier that takes the last time step, on padded input.

After `BiRNN` of yunjey/pytorch-tutorial, tutorials/02-intermediate/
bidirectional_recurrent_neural_network/main.py:
https://github.com/yunjey/pytorch-tutorial/blob/master/tutorials/02-intermediate/bidirectional_recurrent_neural_network/main.py
(zero `h0`/`c0` for `layers·2`, a 2-layer batch-first bidirectional LSTM, then
`self.fc(out[:, -1, :])`), as the many copies of it that classify variable-length text
run it: the batch packed, the output unpacked with `batch_first=True`, then the
tutorial's last step. Not one of the five kinds issue 10 measured; here for the bug.

KNOWN BUG (marked on its line): `out[:, -1, :]` of a bidirectional output is the forward
direction's last step but the backward direction's *first* (it has read one token), and
for every sequence shorter than the longest, `out[:, -1]` is padding (zeros). The
tutorial's fixed-length MNIST rows hide the second half of the bug, not the first.
"""

# ruff: noqa: RUF059  (the locals a user holds at a breakpoint are the point, used or not)

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import Stop

__all__ = ["SHAPES", "STOPS", "BiRNN", "make"]

BATCH, TOKENS, FEATURES, CLASSES = 3, 6, 3, 5
LENGTHS = (4, 6, 2)


class BiRNN(nn.Module):
    def __init__(self, input_size=FEATURES, hidden_size=4, num_layers=2, num_classes=CLASSES):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(
            input_size, hidden_size, num_layers, batch_first=True, bidirectional=True
        )
        self.fc = nn.Linear(hidden_size * 2, num_classes)  # 2 for both directions

    def forward(self, x, lengths):
        h0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
        c0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, c_n) = self.lstm(packed, (h0, c0))
        out, out_lengths = pad_packed_sequence(out, batch_first=True)
        last = out[:, -1, :]  # KNOWN BUG: backward half read one token; short rows are padding
        logits = self.fc(last)
        return logits


def make() -> tuple[BiRNN, tuple[object, ...]]:
    """Three sequences of 4, 6 and 2 steps (zero-padded to 6), 3 features each."""
    x = torch.randn(BATCH, TOKENS, FEATURES)
    for row, n in enumerate(LENGTHS):
        x[row, n:] = 0
    return BiRNN(), (x, torch.tensor(LENGTHS))


SHAPES = (BATCH, CLASSES)
"""The logits: (batch, classes)."""

STOPS = (
    Stop(
        "BiRNN.forward",
        "return logits",
        derived=("out", "h_n", "c_n", "last", "logits"),
        not_counted={
            "h0": "the initial state, an input",
            "c0": "the initial state, an input",
            "packed": "the recurrent layer's input",
            "out_lengths": "the lengths",
        },
    ),
)
