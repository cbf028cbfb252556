"""A sentiment classifier: a packed, batch-first, 2-layer bidirectional LSTM and a Linear head.

After the `LSTM` class of bentrevett/pytorch-sentiment-analysis, "2 - Recurrent Neural
Networks.ipynb":
https://github.com/bentrevett/pytorch-sentiment-analysis/blob/main/2%20-%20Recurrent%20Neural%20Networks.ipynb
(read at 329f654). As there: the embedded batch packed with `enforce_sorted=False`, the
padded output unpacked, `hidden` rebound to dropout of the last layer's two directions
joined, and the head applied to that.

Two lines keep what the original does, marked `ORIGINAL'S PATTERN`:
- `pad_packed_sequence(packed_output)` without `batch_first=True`, on a `batch_first`
  LSTM: `output` is `(token, batch, 2·hidden)`, though the original's comment says
  `[batch size, seq len, hidden dim * n directions]` (unused there, so nothing fails);
- `cat([hidden[-1], hidden[-2]])`: the backward direction first, then the forward one,
  the reverse of the usual order (harmless before a Linear layer trained on it, surprising
  to anyone who reads the halves).
"""

# ruff: noqa: RUF059  (the locals a user holds at a breakpoint are the point, used or not)

from __future__ import annotations

import torch
from torch import nn

from . import Stop

__all__ = ["LSTM", "SHAPES", "STOPS", "make"]

LENGTHS = (6, 4, 2)  # unsorted would do as well: packed with enforce_sorted=False
PAD = 0


class LSTM(nn.Module):
    def __init__(
        self,
        vocab_size=20,
        embedding_dim=5,
        hidden_dim=4,
        output_dim=2,
        n_layers=2,
        bidirectional=True,
        dropout_rate=0.5,
        pad_index=PAD,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_dim,
            n_layers,
            bidirectional=bidirectional,
            dropout=dropout_rate,
            batch_first=True,
        )
        self.fc = nn.Linear(hidden_dim * 2 if bidirectional else hidden_dim, output_dim)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, ids, length):
        # ids: (batch, seq), length: (batch,)
        embedded = self.dropout(self.embedding(ids))
        packed_embedded = nn.utils.rnn.pack_padded_sequence(
            embedded, length, batch_first=True, enforce_sorted=False
        )
        packed_output, (hidden, cell) = self.lstm(packed_embedded)
        # hidden, cell: (layers·directions, batch, hidden)
        # ORIGINAL'S PATTERN: no batch_first here, so output is (seq, batch, 2·hidden)
        output, output_length = nn.utils.rnn.pad_packed_sequence(packed_output)
        if self.lstm.bidirectional:
            # ORIGINAL'S PATTERN: backward (hidden[-1]) first, then forward (hidden[-2])
            hidden = self.dropout(torch.cat([hidden[-1], hidden[-2]], dim=-1))
        else:
            hidden = self.dropout(hidden[-1])
        prediction = self.fc(hidden)
        return prediction


def make() -> tuple[LSTM, tuple[object, ...]]:
    """Three reviews of 6, 4 and 2 tokens, padded with PAD; training mode."""
    model = LSTM()
    ids = torch.randint(1, 20, (len(LENGTHS), max(LENGTHS)))
    for row, n in enumerate(LENGTHS):
        ids[row, n:] = PAD
    return model, (ids, torch.tensor(LENGTHS))


SHAPES = (len(LENGTHS), 2)
"""The prediction: (batch, classes)."""

STOPS = (
    Stop(
        "LSTM.forward",
        "return prediction",
        derived=("packed_output", "cell", "output", "hidden", "prediction"),
        not_counted={
            "output_length": "the lengths, which equal the input's",
            "packed_embedded": "the recurrent layer's input",
        },
    ),
)
