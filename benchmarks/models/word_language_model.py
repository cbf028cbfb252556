"""A word-level language model: embedding, a time-major multi-layer LSTM, a Linear decoder.

After `RNNModel` in PyTorch's examples, word_language_model/model.py:
https://github.com/pytorch/examples/blob/main/word_language_model/model.py
(read at 77f55b9). As there: dropout on the embedding and on the recurrent output, the
hidden state passed in and handed back (an `(h, c)` tuple for an LSTM), and the decoder's
`(token, batch, vocab)` output flattened to `(token·batch, vocab)` before log_softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import Stop

__all__ = ["SHAPES", "STOPS", "RNNModel", "make"]

TOKENS, BATCH = 7, 3


class RNNModel(nn.Module):
    def __init__(self, rnn_type="LSTM", ntoken=11, ninp=6, nhid=5, nlayers=2, dropout=0.5):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ("LSTM", "GRU"):
            self.rnn: nn.RNNBase = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (
                weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid),
            )
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def make() -> tuple[RNNModel, tuple[object, ...]]:
    """A 2-layer LSTM language model in training mode, on a (token, batch) batch of ids."""
    model = RNNModel()
    ids = torch.randint(0, model.ntoken, (TOKENS, BATCH))
    return model, (ids, model.init_hidden(BATCH))


SHAPES = ((TOKENS * BATCH, 11), ((2, BATCH, 5), (2, BATCH, 5)))
"""log-probabilities (token·batch, vocab), then the (h, c) tuple."""

STOPS = (
    Stop(
        "RNNModel.forward",
        "return F.log_softmax(decoded, dim=1), hidden",
        derived=("output", "hidden", "decoded"),
        not_counted={"emb": "the embedding, the recurrent layer's input"},
    ),
)
