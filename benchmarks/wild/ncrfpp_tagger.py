"""A sequence tagger: NCRF++'s word-level BiLSTM over a sorted, packed batch, then a Linear.

After jiesutd/NCRFpp, model/wordsequence.py (`WordSequence`) and model/seqlabel.py
(`SeqLabel`), read at ab82b68, their last change on master:
https://github.com/jiesutd/NCRFpp/blob/master/model/wordsequence.py
https://github.com/jiesutd/NCRFpp/blob/master/model/seqlabel.py
As there: a `batch_first=True` LSTM fed `pack_padded_sequence(..., True)` of a batch that
NCRF++'s batchify sorts by length, the output unpacked *without* `batch_first` (so
time-major) and put back with `.transpose(1, 0)`, dropout, `hidden2tag`, then, without a
CRF, `outs.view(batch_size * seq_len, -1)`, `torch.max` and `mask.long() * tag_seq`. The
word representation is only a word embedding here (no char or feature embeddings), and the
long argument lists are cut to what the LSTM path uses.

KNOWN BUG (not run here): `WordSequence.sentence_representation`, which NCRF++'s sentence
classifier uses, takes `hidden[0].transpose(1,0).contiguous().view(batch_size,-1)`. For an
LSTM `hidden[0]` is `h_n` and that is every layer's final state per sequence; for a GRU
(`word_feature_extractor == "GRU"`) `hidden[0]` is only `h_n`'s first row (layer 0,
forward), `(batch, hidden)`, and the transpose-then-view mixes the rows of different
sentences.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import WildStop

__all__ = ["SHAPES", "STOPS", "SeqLabel", "WordSequence", "make"]

VOCAB, EMBED, HIDDEN, LABELS = 15, 4, 6, 5
LENGTHS = (6, 4, 2)  # sorted, longest first, as NCRF++'s batchify leaves them


class WordSequence(nn.Module):
    def __init__(self, vocab=VOCAB, word_emb_dim=EMBED, hidden_dim=HIDDEN, labels=LABELS):
        super().__init__()
        self.droplstm = nn.Dropout(0.5)
        self.bilstm_flag = True
        self.lstm_layer = 1
        self.word_embedding = nn.Embedding(vocab, word_emb_dim, padding_idx=0)
        self.input_size = word_emb_dim
        lstm_hidden = hidden_dim // 2 if self.bilstm_flag else hidden_dim
        self.lstm = nn.LSTM(
            self.input_size,
            lstm_hidden,
            num_layers=self.lstm_layer,
            batch_first=True,
            bidirectional=self.bilstm_flag,
        )
        self.hidden2tag = nn.Linear(hidden_dim, labels)

    def forward(self, word_inputs, word_seq_lengths):
        word_represent = self.word_embedding(word_inputs)
        ## word_embs (batch_size, seq_len, embed_size)
        packed_words = pack_padded_sequence(word_represent, word_seq_lengths.cpu().numpy(), True)
        hidden = None
        lstm_out, hidden = self.lstm(packed_words, hidden)
        lstm_out, _ = pad_packed_sequence(lstm_out)  # no batch_first: (seq_len, batch, hidden)
        feature_out = self.droplstm(lstm_out.transpose(1, 0))
        ## feature_out (batch_size, seq_len, hidden_size)
        outputs = self.hidden2tag(feature_out)
        return outputs


class SeqLabel(nn.Module):
    def __init__(self):
        super().__init__()
        self.use_crf = False
        self.word_hidden = WordSequence()

    def forward(self, word_inputs, word_seq_lengths, mask):
        outs = self.word_hidden(word_inputs, word_seq_lengths)
        batch_size = word_inputs.size(0)
        seq_len = word_inputs.size(1)
        outs = outs.view(batch_size * seq_len, -1)
        _, tag_seq = torch.max(outs, 1)
        tag_seq = tag_seq.view(batch_size, seq_len)
        ## filter padded position with zero
        tag_seq = mask.long() * tag_seq
        return tag_seq


def make() -> tuple[SeqLabel, tuple[object, ...]]:
    """Three sentences of 6, 4 and 2 words (sorted, zero-padded to 6); training mode."""
    word_inputs = torch.randint(1, VOCAB, (len(LENGTHS), max(LENGTHS)))
    mask = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.bool)
    for row, n in enumerate(LENGTHS):
        word_inputs[row, n:] = 0
        mask[row, :n] = True
    return SeqLabel(), (word_inputs, torch.tensor(LENGTHS), mask)


SHAPES = (len(LENGTHS), max(LENGTHS))
"""The tag ids: (batch, token)."""

_PADDED = "padded: zeros past each length"
STOPS = (
    WildStop(
        "WordSequence.forward",
        "return outputs",
        expected={
            "hidden": "((layer direction) batch hidden, (layer direction) batch hidden)",
            "lstm_out": "token batch (direction hidden)",
            "feature_out": "batch token (direction hidden)",
            "outputs": "batch token feature",
        },
        notes={
            "hidden": "(h_n, c_n) of a packed batch: each sequence's real last step",
            "lstm_out": "token-major although the LSTM is batch_first: pad_packed_sequence "
            "without batch_first; " + _PADDED,
            "feature_out": "transposed back to batch-first, dropout; " + _PADDED,
            "outputs": "tag scores (hidden2tag); padding rows hold the bias, not zeros",
        },
        not_counted={
            "word_represent": "the word embedding, the layer's input",
            "packed_words": "the recurrent layer's input",
            "word_inputs": "the word ids",
            "word_seq_lengths": "the lengths",
        },
    ),
    WildStop(
        "SeqLabel.forward",
        "return tag_seq",
        expected={"outs": "(batch token) feature"},
        notes={"outs": "tag scores with batch and token flattened, batch-major"},
        not_counted={
            "tag_seq": "tag ids picked from the scores",
            "mask": "the padding mask, an input",
            "word_inputs": "the word ids",
            "word_seq_lengths": "the lengths",
            "batch_size": "an int",
            "seq_len": "an int",
        },
    ),
)
