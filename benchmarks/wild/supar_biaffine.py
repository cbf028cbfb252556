"""Dependency parsing: the biaffine parser, a char-LSTM per word, a word BiLSTM, biaffine scores.

After yzhangcs/parser (SuPar's predecessor), parser/model.py (`Model`, read at b88e29a),
parser/modules/char_lstm.py (`CharLSTM`, read at 0c54deb) and parser/modules/biaffine.py
(`Biaffine`, read at 6142fd8):
https://github.com/yzhangcs/parser/blob/b88e29af99d62c413298e567f88905614ace8a4d/parser/model.py
https://github.com/yzhangcs/parser/blob/0c54debb50a15fd47e541d946dac4ff16d49041c/parser/modules/char_lstm.py
(the repository is SuPar now; these files are gone from its main branch).
As there: the char LSTM runs on the non-empty words only (`x[char_mask]`, packed with
`enforce_sorted=False`), joins its `h_n` rows with `torch.cat(torch.unbind(h), -1)` and
scatters them back into a zero tensor of `(batch, seq_len, n_out)` with
`masked_scatter_(char_mask.unsqueeze(-1), h)`, so that padding words get zeros; word and
char embeddings are joined on the last axis, packed with `enforce_sorted=False`, run
through the word BiLSTM and unpacked with `total_length=seq_len`; four MLPs feed two
`Biaffine` layers (`einsum('bxi,oij,byj->boxy')`), and the arc scores of heads past each
length are `masked_fill_(~mask.unsqueeze(1), -inf)`.

Two substitutions: the word BiLSTM is `nn.LSTM` here, where the original has its own
`BiLSTM` of `LSTMCell`s (same layout: a PackedSequence in, a PackedSequence and a state
out); and the model passes the 3-D `feats` straight to `CharLSTM`, as the later versions
whose `CharLSTM` masks empty words itself do (the b88e29a model passes `feats[mask]` to a
2-D one). `IndependentDropout`, `SharedDropout` and `MLP` are short stand-ins. No known
bug in this path.
"""

# ruff: noqa: RUF059  (the locals a user holds at a breakpoint are the point, used or not)

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import WildStop

__all__ = ["SHAPES", "STOPS", "Biaffine", "CharLSTM", "Model", "make"]

ARGS = SimpleNamespace(
    n_words=12,  # trained embeddings; larger ids use unk + the pretrained table
    n_pretrained=16,
    n_embed=4,
    feat="char",
    n_feats=8,
    n_char_embed=3,
    n_feat_embed=4,  # char LSTM: 2 per direction
    feat_pad_index=0,
    n_lstm_hidden=3,
    n_lstm_layers=2,
    n_mlp_arc=4,
    n_mlp_rel=3,
    n_rels=5,
    embed_dropout=0.33,
    lstm_dropout=0.33,
    mlp_dropout=0.33,
    pad_index=0,
    unk_index=1,
)
LENGTHS = (5, 3, 4)  # unsorted: packed with enforce_sorted=False
FIX_LEN = 4  # characters per word, padded


class SharedDropout(nn.Module):
    """Dropout with one mask for every token of a sequence (batch_first)."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training and self.p:
            mask = x.new_empty(x.shape[0], x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
            x = x * mask.unsqueeze(1)
        return x


class IndependentDropout(nn.Module):
    """Drop whole embeddings, each item independently, rescaling the kept ones."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, *items):
        if self.training:
            masks = [x.new_empty(x.shape[:2]).bernoulli_(1 - self.p) for x in items]
            total = sum(masks)
            scale = len(items) / total.max(torch.ones_like(total))
            masks = [mask * scale for mask in masks]
            items = [item * mask.unsqueeze(-1) for item, mask in zip(items, masks, strict=True)]
        return items


class MLP(nn.Module):
    def __init__(self, n_in, n_out, dropout=0):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.activation = nn.LeakyReLU(negative_slope=0.1)
        self.dropout = SharedDropout(p=dropout)

    def forward(self, x):
        return self.dropout(self.activation(self.linear(x)))


class CharLSTM(nn.Module):
    def __init__(self, n_chars, n_embed, n_out, pad_index=0):
        super().__init__()
        self.n_chars = n_chars
        self.n_embed = n_embed
        self.n_out = n_out
        self.pad_index = pad_index
        self.embed = nn.Embedding(num_embeddings=n_chars, embedding_dim=n_embed)
        self.lstm = nn.LSTM(
            input_size=n_embed, hidden_size=n_out // 2, batch_first=True, bidirectional=True
        )

    def forward(self, x):
        # [batch_size, seq_len, fix_len]
        mask = x.ne(self.pad_index)
        # [batch_size, seq_len]
        lens = mask.sum(-1)
        char_mask = lens.gt(0)

        # [n, fix_len, n_embed]
        x = self.embed(x[char_mask])
        x = pack_padded_sequence(x, lens[char_mask], True, False)
        x, (h, _) = self.lstm(x)
        # [n, n_out]
        h = torch.cat(torch.unbind(h), dim=-1)
        # [batch_size, seq_len, n_out]
        embed = h.new_zeros(*lens.shape, self.n_out)
        embed = embed.masked_scatter_(char_mask.unsqueeze(-1), h)

        return embed


class Biaffine(nn.Module):
    def __init__(self, n_in, n_out=1, bias_x=True, bias_y=True):
        super().__init__()
        self.n_in = n_in
        self.n_out = n_out
        self.bias_x = bias_x
        self.bias_y = bias_y
        self.weight = nn.Parameter(torch.randn(n_out, n_in + bias_x, n_in + bias_y) * 0.1)

    def forward(self, x, y):
        if self.bias_x:
            x = torch.cat([x, x.new_ones(x.shape[:-1]).unsqueeze(-1)], -1)
        if self.bias_y:
            y = torch.cat([y, y.new_ones(y.shape[:-1]).unsqueeze(-1)], -1)
        # [batch_size, n_out, seq_len, seq_len]
        s = torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)
        # remove dim 1 if n_out == 1
        s = s.squeeze(1)
        return s


class Model(nn.Module):
    def __init__(self, args=ARGS):
        super().__init__()
        self.args = args
        self.word_embed = nn.Embedding(num_embeddings=args.n_words, embedding_dim=args.n_embed)
        self.feat_embed = CharLSTM(
            n_chars=args.n_feats,
            n_embed=args.n_char_embed,
            n_out=args.n_feat_embed,
            pad_index=args.feat_pad_index,
        )
        self.embed_dropout = IndependentDropout(p=args.embed_dropout)
        # SUBSTITUTED: nn.LSTM for the original's own BiLSTM of LSTMCells
        self.lstm = nn.LSTM(
            input_size=args.n_embed + args.n_feat_embed,
            hidden_size=args.n_lstm_hidden,
            num_layers=args.n_lstm_layers,
            dropout=args.lstm_dropout,
            bidirectional=True,
            batch_first=True,
        )
        self.lstm_dropout = SharedDropout(p=args.lstm_dropout)
        self.mlp_arc_d = MLP(args.n_lstm_hidden * 2, args.n_mlp_arc, args.mlp_dropout)
        self.mlp_arc_h = MLP(args.n_lstm_hidden * 2, args.n_mlp_arc, args.mlp_dropout)
        self.mlp_rel_d = MLP(args.n_lstm_hidden * 2, args.n_mlp_rel, args.mlp_dropout)
        self.mlp_rel_h = MLP(args.n_lstm_hidden * 2, args.n_mlp_rel, args.mlp_dropout)
        self.arc_attn = Biaffine(n_in=args.n_mlp_arc, bias_x=True, bias_y=False)
        self.rel_attn = Biaffine(n_in=args.n_mlp_rel, n_out=args.n_rels, bias_x=True, bias_y=True)
        self.pad_index = args.pad_index
        self.unk_index = args.unk_index

    def load_pretrained(self, embed=None):
        if embed is not None:
            self.pretrained = nn.Embedding.from_pretrained(embed)
            nn.init.zeros_(self.word_embed.weight)
        return self

    def forward(self, words, feats):
        batch_size, seq_len = words.shape
        # get the mask and lengths of given batch
        mask = words.ne(self.pad_index)
        lens = mask.sum(dim=1)
        ext_words = words
        # set the indices larger than num_embeddings to unk_index
        if hasattr(self, "pretrained"):
            ext_mask = words.ge(self.word_embed.num_embeddings)
            ext_words = words.masked_fill(ext_mask, self.unk_index)

        # get outputs from embedding layers
        word_embed = self.word_embed(ext_words)
        if hasattr(self, "pretrained"):
            word_embed += self.pretrained(words)
        feat_embed = self.feat_embed(feats)  # the 3-D feats: see the module docstring
        word_embed, feat_embed = self.embed_dropout(word_embed, feat_embed)
        # concatenate the word and feat representations
        embed = torch.cat((word_embed, feat_embed), dim=-1)

        x = pack_padded_sequence(embed, lens, True, False)
        x, _ = self.lstm(x)
        x, _ = pad_packed_sequence(x, True, total_length=seq_len)
        x = self.lstm_dropout(x)

        # apply MLPs to the BiLSTM output states
        arc_d = self.mlp_arc_d(x)
        arc_h = self.mlp_arc_h(x)
        rel_d = self.mlp_rel_d(x)
        rel_h = self.mlp_rel_h(x)

        # [batch_size, seq_len, seq_len]
        s_arc = self.arc_attn(arc_d, arc_h)
        # [batch_size, seq_len, seq_len, n_rels]
        s_rel = self.rel_attn(rel_d, rel_h).permute(0, 2, 3, 1)
        # set the scores that exceed the length of each sentence to -inf
        s_arc.masked_fill_(~mask.unsqueeze(1), float("-inf"))

        return s_arc, s_rel


def make() -> tuple[Model, tuple[object, ...]]:
    """Three sentences of 5, 3 and 4 words (padded to 6), words of 1 to 4 characters."""
    seq_len = max(LENGTHS) + 1  # one all-padding position for every sentence
    words = torch.zeros(len(LENGTHS), seq_len, dtype=torch.long)
    feats = torch.zeros(len(LENGTHS), seq_len, FIX_LEN, dtype=torch.long)
    for row, n in enumerate(LENGTHS):
        words[row, :n] = torch.randint(2, ARGS.n_pretrained, (n,))  # some >= n_words
        for col in range(n):
            chars = 1 + (row + col) % FIX_LEN
            feats[row, col, :chars] = torch.randint(1, ARGS.n_feats, (chars,))
    model = Model().load_pretrained(torch.randn(ARGS.n_pretrained, ARGS.n_embed))
    return model, (words, feats)


_SEQ = max(LENGTHS) + 1
SHAPES = ((len(LENGTHS), _SEQ, _SEQ), (len(LENGTHS), _SEQ, _SEQ, ARGS.n_rels))
"""Arc scores (batch, dependent, head), -inf past each length; label scores (batch,
dependent, head, rel)."""

_PAIR = "token × token: dependents × heads"
STOPS = (
    WildStop(
        "CharLSTM.forward",
        "return embed",
        expected={
            "x": "batch token (direction hidden)",
            "h": "batch (layer direction hidden)",
            "embed": "batch token (layer direction hidden)",
        },
        notes={
            "x": "the char LSTM's packed output; its batch = the non-empty words, "
            "token = characters",
            "h": "every row of h_n side by side (1 layer: forward then backward); "
            "batch = the non-empty words",
            "embed": "h scattered into zeros at (sentence, word): the char LSTM's batch "
            "axis spread over the parser's (batch token); zeros at padding words",
        },
        not_counted={
            "mask": "the character mask",
            "lens": "the lengths",
            "char_mask": "the word mask",
            "_": "c_n, discarded",
        },
    ),
    WildStop(  # arc_attn, the first call
        "Biaffine.forward",
        "return s",
        expected={"x": "batch token feature", "y": "batch token feature", "s": "batch token token"},
        notes={
            "x": "mlp_arc_d of the BiLSTM output, a column of ones appended (bias_x)",
            "y": "mlp_arc_h of the BiLSTM output (no bias column: bias_y=False)",
            "s": "biaffine arc scores, n_out=1 squeezed; " + _PAIR,
        },
    ),
    WildStop(
        "Model.forward",
        "return s_arc, s_rel",
        expected={
            "feat_embed": "batch token (layer direction hidden)",
            "embed": "batch token feature",
            "x": "batch token (direction hidden)",
            "arc_d": "batch token feature",
            "arc_h": "batch token feature",
            "rel_d": "batch token feature",
            "rel_h": "batch token feature",
            "s_arc": "batch token token",
            "s_rel": "batch token token feature",
        },
        notes={
            "feat_embed": "char LSTM final states per word (zeros at padding), "
            "after independent dropout",
            "embed": "word embedding then char features, joined on the last axis: "
            "the word BiLSTM's input",
            "x": "the word BiLSTM's output, padded to total_length; shared dropout",
            "s_arc": _PAIR + "; heads past each length set to -inf",
            "s_rel": _PAIR + "; feature = relation labels",
        },
        not_counted={
            "words": "the word ids",
            "feats": "the character ids",
            "ext_words": "word ids",
            "ext_mask": "a mask of ids",
            "mask": "the padding mask",
            "lens": "the lengths",
            "word_embed": "the word embeddings (after dropout), before any recurrent layer",
            "batch_size": "an int",
            "seq_len": "an int",
        },
    ),
)
