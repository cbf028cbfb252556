"""Sentence embeddings: InferSent's BiLSTM with numpy sort/unsort and mean or max pooling.

After facebookresearch/InferSent, models.py (`InferSent`, read at 14b7ebb, a 2018 revision
kept here for its bug; the current main is 31eede6):
https://github.com/facebookresearch/InferSent/blob/14b7ebb01d9186e9130330deb720367ce67bb9f4/models.py
As there: `sent_tuple` is a time-major `(seqlen, bsize, worddim)` tensor and a numpy array
of lengths; the batch is sorted with `np.sort(sent_len)[::-1], np.argsort(-sent_len)`,
reordered with `sent.index_select(1, idx_sort)`, packed, encoded, unpacked, put back with
`index_select(1, idx_unsort)`; then mean pooling `torch.sum(sent_output, 0).squeeze(0) /
sent_len.expand_as(emb)` or max pooling (for version 2 after `sent_output[sent_output == 0]
= -1e9`). `make()` uses mean pooling, on an unsorted batch, to run the bug below.
Two changes to run on a current torch and a CPU, both marked: the reversed (negatively
strided) numpy lengths are copied before `pack_padded_sequence` turns them into a tensor,
and the mean branch's unconditional `.cuda()` is gone (the original fails without a GPU).

KNOWN BUG (at 14b7ebb; fixed in ad225b0 "Fixed mean normalization", which keeps the sorted
lengths as `sent_len_sorted`): in the mean branch `sent_len` is the *sorted* lengths while
`sent_output` has been un-sorted, so each sentence's sum is divided by another sentence's
length whenever the batch does not come sorted. `encode()` sorts its whole input first, so
the batches it passes are sorted and its embeddings right; `forward` on an unsorted batch
gets wrong means. Still on main: the mean branch's unconditional `.cuda()`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from . import WildStop

__all__ = ["SHAPES", "STOPS", "InferSent", "make"]

LENGTHS = (3, 5, 2)  # unsorted
WORD_DIM, ENC_DIM = 3, 4


class InferSent(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.bsize = config["bsize"]
        self.word_emb_dim = config["word_emb_dim"]
        self.enc_lstm_dim = config["enc_lstm_dim"]
        self.pool_type = config["pool_type"]
        self.dpout_model = config["dpout_model"]
        self.version = 1 if "version" not in config else config["version"]  # noqa: SIM401

        self.enc_lstm = nn.LSTM(
            self.word_emb_dim, self.enc_lstm_dim, 1, bidirectional=True, dropout=self.dpout_model
        )

        assert self.version in [1, 2]
        self.max_pad = self.version == 1

    def forward(self, sent_tuple):
        # sent_len: [max_len, ..., min_len] (bsize)
        # sent: (seqlen x bsize x worddim)
        sent, sent_len = sent_tuple

        # Sort by length (keep idx)
        sent_len, idx_sort = np.sort(sent_len)[::-1], np.argsort(-sent_len)
        idx_unsort = np.argsort(idx_sort)

        idx_sort = torch.from_numpy(idx_sort)
        sent = sent.index_select(1, idx_sort)

        # Handling padding in Recurrent Networks
        # CHANGED: .copy(); a negatively strided array cannot become a tensor
        sent_packed = nn.utils.rnn.pack_padded_sequence(sent, sent_len.copy())
        sent_output = self.enc_lstm(sent_packed)[0]  # seqlen x batch x 2*nhid
        sent_output = nn.utils.rnn.pad_packed_sequence(sent_output)[0]

        # Un-sort by length
        idx_unsort = torch.from_numpy(idx_unsort)
        sent_output = sent_output.index_select(1, idx_unsort)

        # Pooling
        if self.pool_type == "mean":
            # CHANGED: no .cuda() here, and .copy() as above
            sent_len = torch.FloatTensor(sent_len.copy()).unsqueeze(1)
            emb = torch.sum(sent_output, 0).squeeze(0)
            emb = emb / sent_len.expand_as(emb)  # KNOWN BUG: sorted lengths, unsorted rows
        elif self.pool_type == "max":
            if not self.max_pad:
                sent_output[sent_output == 0] = -1e9
            emb = torch.max(sent_output, 0)[0]
            if emb.ndimension() == 3:
                emb = emb.squeeze(0)
                assert emb.ndimension() == 2

        return emb


def make() -> tuple[InferSent, tuple[object, ...]]:
    """Three sentences of 3, 5 and 2 word vectors, time-major, zero-padded, unsorted."""
    config = {
        "bsize": len(LENGTHS),
        "word_emb_dim": WORD_DIM,
        "enc_lstm_dim": ENC_DIM,
        "pool_type": "mean",
        "dpout_model": 0.0,
        "version": 2,
    }
    sent = torch.randn(max(LENGTHS), len(LENGTHS), WORD_DIM)
    for col, n in enumerate(LENGTHS):
        sent[n:, col] = 0
    return InferSent(config), ((sent, np.array(LENGTHS)),)


SHAPES = (len(LENGTHS), 2 * ENC_DIM)
"""The sentence embeddings: (batch, 2·enc_lstm_dim)."""

STOPS = (
    WildStop(
        "InferSent.forward",
        "idx_unsort = torch.from_numpy(idx_unsort)",
        expected={"sent_output": "token batch (direction hidden)"},
        notes={"sent_output": "padded (zeros past each length); rows in sorted order"},
        not_counted={
            "sent": "the word vectors, sorted: the layer's input",
            "sent_packed": "the recurrent layer's input",
            "sent_len": "the lengths (sorted, numpy)",
            "idx_sort": "indices",
            "idx_unsort": "indices (numpy)",
            "sent_tuple": "the input (word vectors, numpy lengths)",
        },
    ),
    WildStop(
        "InferSent.forward",
        "return emb",
        expected={
            "sent_output": "token batch (direction hidden)",
            "emb": "batch (direction hidden)",
        },
        notes={
            "sent_output": "padded; rows back in input order",
            "emb": "sum over tokens divided by lengths (a masked mean, padding being "
            "zeros); KNOWN BUG: the lengths are in sorted order and the rows are not",
        },
        not_counted={
            "sent_len": "the lengths, sorted, as a (batch, 1) float tensor",
            "sent": "the word vectors, sorted",
            "sent_packed": "the recurrent layer's input",
            "idx_sort": "indices",
            "idx_unsort": "indices",
            "sent_tuple": "the input (word vectors, numpy lengths)",
        },
    ),
)
