"""Neural machine translation: Joey NMT's recurrent encoder-decoder with Bahdanau attention.

After joeynmt/joeynmt (read at cdc4d03), joeynmt/encoders.py (`RecurrentEncoder`),
joeynmt/decoders.py (`RecurrentDecoder`), joeynmt/attention.py (`BahdanauAttention`) and
joeynmt/model.py (`Model._encode_decode`):
https://github.com/joeynmt/joeynmt/blob/main/joeynmt/encoders.py
https://github.com/joeynmt/joeynmt/blob/main/joeynmt/decoders.py
https://github.com/joeynmt/joeynmt/blob/main/joeynmt/attention.py
As there: a batch-first bidirectional LSTM encoder over a sorted, packed batch whose
`hidden` is split with `hidden.view(num_layers, 2, batch_size, hidden_size)` and whose last
layer's two rows are joined with `cat([h[-1:, 0], h[-1:, 1]], dim=2).squeeze(0)`; a
"bridge" Linear of that, `unsqueeze(0).repeat(num_layers, 1, 1)`, starts every decoder
layer; the decoder unrolls one step at a time with input feeding, discards each step's
`out` (`_, hidden = self.rnn(...)`), queries attention with its top layer's `h_n`
(`hidden[0][-1].unsqueeze(1)`), masks the scores with `torch.where(mask > 0, ...,
-inf)`, joins query and context on the last axis, and at the end permutes `hidden` to
batch-first for DataParallel. Joey NMT's `Model.forward(return_type=...)` dispatch, the
shape checks and the embeddings' scaling are left out; `forward` here is its
`_encode_decode`.

KNOWN BUG: `RecurrentEncoder.forward` always takes `hidden_layerwise[-1:, 1]`, so an
encoder configured with `bidirectional: False` fails there with an IndexError (its view
has one direction).
"""

# ruff: noqa: RUF059  (the locals a user holds at a breakpoint are the point, used or not)

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import WildStop

__all__ = ["SHAPES", "STOPS", "BahdanauAttention", "Model", "make"]

SRC_VOCAB, TRG_VOCAB, EMB, HIDDEN, LAYERS = 11, 9, 4, 3, 2
LENGTHS = (5, 4, 2)  # sorted: "the input mini-batch x needs to be sorted by src length"
TRG_STEPS = 3
PAD = 1


class RecurrentEncoder(nn.Module):
    def __init__(self, hidden_size=HIDDEN, emb_size=EMB, num_layers=LAYERS, dropout=0.1):
        super().__init__()
        self.emb_dropout = nn.Dropout(p=dropout)
        self.type = "lstm"
        self.emb_size = emb_size
        self.rnn = nn.LSTM(
            emb_size,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self._output_size = 2 * hidden_size

    @property
    def output_size(self):
        return self._output_size

    def forward(self, src_embed, src_length, mask):
        total_length = src_embed.size(1)
        src_embed = self.emb_dropout(src_embed)

        packed = pack_padded_sequence(src_embed, src_length.cpu(), batch_first=True)
        output, hidden = self.rnn(packed)

        if isinstance(hidden, tuple):
            hidden, memory_cell = hidden

        output, _ = pad_packed_sequence(output, batch_first=True, total_length=total_length)
        # hidden: dir*layers x batch x hidden
        batch_size = hidden.size()[1]
        # separate final hidden states by layer and direction
        hidden_layerwise = hidden.view(
            self.rnn.num_layers,
            2 if self.rnn.bidirectional else 1,
            batch_size,
            self.rnn.hidden_size,
        )
        # the final states of the last layer, each direction
        fwd_hidden_last = hidden_layerwise[-1:, 0]
        bwd_hidden_last = hidden_layerwise[-1:, 1]  # KNOWN BUG: IndexError if unidirectional
        hidden_concat = torch.cat([fwd_hidden_last, bwd_hidden_last], dim=2).squeeze(0)
        # final: batch x directions*hidden
        return output, hidden_concat


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size=HIDDEN, key_size=2 * HIDDEN, query_size=HIDDEN):
        super().__init__()
        self.key_layer = nn.Linear(key_size, hidden_size, bias=False)
        self.query_layer = nn.Linear(query_size, hidden_size, bias=False)
        self.energy_layer = nn.Linear(hidden_size, 1, bias=False)
        self.proj_keys = None
        self.proj_query = None

    def forward(self, query, mask, values):
        assert mask is not None, "mask is required"
        assert self.proj_keys is not None, "projection keys have to get pre-computed"
        self.compute_proj_query(query)
        # proj_keys: batch x src_len x hidden_size, proj_query: batch x 1 x hidden_size
        scores = self.energy_layer(torch.tanh(self.proj_query + self.proj_keys))
        scores = scores.squeeze(2).unsqueeze(1)
        # scores: batch x 1 x time; -inf at the masked-out positions
        scores = torch.where(mask > 0, scores, scores.new_full([1], -np.inf))
        alphas = F.softmax(scores, dim=-1)  # batch x 1 x time
        context = alphas @ values  # batch x 1 x value_size
        return context, alphas

    def compute_proj_keys(self, keys):
        self.proj_keys = self.key_layer(keys)

    def compute_proj_query(self, query):
        self.proj_query = self.query_layer(query)


class RecurrentDecoder(nn.Module):
    def __init__(
        self,
        emb_size=EMB,
        hidden_size=HIDDEN,
        encoder_output_size=2 * HIDDEN,
        num_layers=LAYERS,
        vocab_size=TRG_VOCAB,
        dropout=0.1,
    ):
        super().__init__()
        self.emb_dropout = nn.Dropout(p=dropout)
        self.hidden_dropout = nn.Dropout(p=dropout)
        self.hidden_size = hidden_size
        self.input_feeding = True
        self.rnn_input_size = emb_size + hidden_size
        self.rnn = nn.LSTM(
            self.rnn_input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.att_vector_layer = nn.Linear(hidden_size + encoder_output_size, hidden_size)
        self.output_layer = nn.Linear(hidden_size, vocab_size, bias=False)
        self.attention = BahdanauAttention(hidden_size, encoder_output_size, hidden_size)
        self.num_layers = num_layers
        self.init_hidden_option = "bridge"
        self.bridge_layer = nn.Linear(encoder_output_size, hidden_size, bias=True)
        self.activation = torch.tanh

    def _forward_step(self, prev_embed, prev_att_vector, encoder_output, src_mask, hidden):
        if self.input_feeding:
            # concatenate the input with the previous attention vector
            rnn_input = torch.cat([prev_embed, prev_att_vector], dim=2)
        else:
            rnn_input = prev_embed
        rnn_input = self.emb_dropout(rnn_input)
        # rnn_input: batch x 1 x emb+hidden
        _, hidden = self.rnn(rnn_input, hidden)
        # use new (top) decoder layer as attention query
        if isinstance(hidden, tuple):  # noqa: SIM108  (the original's)
            query = hidden[0][-1].unsqueeze(1)
        else:
            query = hidden[-1].unsqueeze(1)  # [#layers, B, D] -> [B, 1, D]
        context, att_probs = self.attention(query=query, values=encoder_output, mask=src_mask)
        # combine context with decoder hidden state before prediction
        att_vector_input = torch.cat([query, context], dim=2)
        att_vector_input = self.hidden_dropout(att_vector_input)
        att_vector = self.activation(self.att_vector_layer(att_vector_input))
        # output: batch x 1 x hidden_size
        return att_vector, hidden, att_probs

    def forward(
        self,
        trg_embed,
        encoder_output,
        encoder_hidden,
        src_mask,
        unroll_steps,
        hidden=None,
        prev_att_vector=None,
    ):
        if hidden is None and encoder_hidden is not None:
            hidden = self._init_hidden(encoder_hidden)

        # pre-compute projected encoder outputs (the "keys" of the attention)
        if hasattr(self.attention, "compute_proj_keys"):
            self.attention.compute_proj_keys(keys=encoder_output)

        att_vectors = []
        att_probs = []
        batch_size = encoder_output.size(0)
        if prev_att_vector is None:
            with torch.no_grad():
                prev_att_vector = encoder_output.new_zeros([batch_size, 1, self.hidden_size])

        # unroll the decoder RNN for `unroll_steps` steps
        for i in range(unroll_steps):
            prev_embed = trg_embed[:, i].unsqueeze(1)  # batch, 1, emb
            prev_att_vector, hidden, att_prob = self._forward_step(
                prev_embed=prev_embed,
                prev_att_vector=prev_att_vector,
                encoder_output=encoder_output,
                src_mask=src_mask,
                hidden=hidden,
            )
            att_vectors.append(prev_att_vector)
            att_probs.append(att_prob)

        att_vectors = torch.cat(att_vectors, dim=1)
        # att_vectors: batch, unroll_steps, hidden_size
        att_probs = torch.cat(att_probs, dim=1)
        # att_probs: batch, unroll_steps, src_length
        outputs = self.output_layer(att_vectors)
        # outputs: batch, unroll_steps, vocab_size

        # DataParallel gathers batches along the 0th dim: batch first
        if isinstance(hidden, tuple):
            h, c = hidden
            hidden = (h.permute(1, 0, 2).contiguous(), c.permute(1, 0, 2).contiguous())
            assert hidden[0].size(0) == batch_size
        else:
            hidden = hidden.permute(1, 0, 2).contiguous()
            assert hidden.size(0) == batch_size
        # shape (batch_size, num_layers, hidden_size)
        return outputs, hidden, att_probs, att_vectors

    def _init_hidden(self, encoder_final=None):
        batch_size = encoder_final.size(0)
        # for multiple layers: is the same for all layers
        if self.init_hidden_option == "bridge" and encoder_final is not None:
            # num_layers x batch_size x hidden_size
            hidden = (
                self.activation(self.bridge_layer(encoder_final))
                .unsqueeze(0)
                .repeat(self.num_layers, 1, 1)
            )
        else:  # initialize with zeros
            with torch.no_grad():
                hidden = encoder_final.new_zeros(self.num_layers, batch_size, self.hidden_size)
        return (hidden, hidden) if isinstance(self.rnn, nn.LSTM) else hidden


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(SRC_VOCAB, EMB, padding_idx=PAD)
        self.trg_embed = nn.Embedding(TRG_VOCAB, EMB, padding_idx=PAD)
        self.encoder = RecurrentEncoder()
        self.decoder = RecurrentDecoder()

    def forward(self, src, trg_input, src_mask, src_length):
        """Joey NMT's `Model._encode_decode`."""
        encoder_output, encoder_hidden = self.encoder(self.src_embed(src), src_length, src_mask)
        unroll_steps = trg_input.size(1)
        return self.decoder(
            trg_embed=self.trg_embed(trg_input),
            encoder_output=encoder_output,
            encoder_hidden=encoder_hidden,
            src_mask=src_mask,
            unroll_steps=unroll_steps,
        )


def make() -> tuple[Model, tuple[object, ...]]:
    """Three source sentences of 5, 4 and 2 ids (sorted, PAD-padded), 3 target steps."""
    src = torch.randint(2, SRC_VOCAB, (len(LENGTHS), max(LENGTHS)))
    for row, n in enumerate(LENGTHS):
        src[row, n:] = PAD
    src_mask = (src != PAD).unsqueeze(1)  # batch x 1 x src_len
    trg_input = torch.randint(2, TRG_VOCAB, (len(LENGTHS), TRG_STEPS))
    return Model(), (src, trg_input, src_mask, torch.tensor(LENGTHS))


_B = len(LENGTHS)
SHAPES = (
    (_B, TRG_STEPS, TRG_VOCAB),
    ((_B, LAYERS, HIDDEN), (_B, LAYERS, HIDDEN)),
    (_B, TRG_STEPS, max(LENGTHS)),
    (_B, TRG_STEPS, HIDDEN),
)
"""outputs (batch, step, vocab), the decoder's (h, c) permuted batch-first, att_probs
(batch, step, token), att_vectors (batch, step, hidden)."""

_H_C = "((layer direction) batch hidden, (layer direction) batch hidden)"
_NOT_ZERO_START = "zeros at the first step (new_zeros), not yet from any layer"
STOPS = (
    WildStop(
        "RecurrentEncoder.forward",
        "return output, hidden_concat",
        expected={
            "output": "batch token (direction hidden)",
            "hidden": "(layer direction) batch hidden",
            "memory_cell": "(layer direction) batch hidden",
            "hidden_layerwise": "layer direction batch hidden",
            "fwd_hidden_last": "layer batch hidden",
            "bwd_hidden_last": "layer batch hidden",
            "hidden_concat": "batch (direction hidden)",
        },
        notes={
            "output": "padded to total_length: zeros past each length",
            "hidden": "h_n, unpacked from the (h_n, c_n) tuple",
            "memory_cell": "c_n",
            "hidden_layerwise": "h_n's rows split into layer and direction (a view)",
            "fwd_hidden_last": "last layer only (layer kept, size 1), forward direction",
            "bwd_hidden_last": "last layer only (layer kept, size 1), backward direction; "
            "KNOWN BUG: this index fails for a unidirectional encoder",
            "hidden_concat": "last layer, forward then backward: each sequence's final state",
        },
        not_counted={
            "src_embed": "the embedding (after dropout), the layer's input",
            "packed": "the recurrent layer's input",
            "total_length": "an int",
            "batch_size": "an int",
            "mask": "the source mask, an input",
            "src_length": "the lengths",
        },
    ),
    WildStop(
        "RecurrentDecoder._init_hidden",
        "return (hidden, hidden) if isinstance",
        expected={
            "encoder_final": "batch (direction hidden)",
            "hidden": "layer batch feature",
        },
        notes={
            "encoder_final": "the encoder's last layer, forward then backward",
            "hidden": "tanh(bridge(encoder_final)) repeated for each decoder layer: "
            "a decoder h_0 of (layer batch hidden) whose layers are copies",
        },
        not_counted={"batch_size": "an int"},
    ),
    WildStop(  # the first step
        "BahdanauAttention.forward",
        "return context, alphas",
        expected={
            "query": "batch 1 hidden",
            "values": "batch token (direction hidden)",
            "scores": "batch 1 token",
            "alphas": "batch 1 token",
            "context": "batch 1 (direction hidden)",
        },
        notes={
            "query": "the decoder's top layer h_n (layer 1, forward), one step",
            "values": "the encoder's padded output",
            "scores": "-inf at padding tokens (torch.where on the mask)",
            "alphas": "softmax over the source tokens; 0 at padding",
            "context": "the attention-weighted sum of the encoder output over tokens",
        },
        not_counted={"mask": "the source mask, an input"},
    ),
    WildStop(  # the first step
        "RecurrentDecoder._forward_step",
        "return att_vector, hidden, att_probs",
        expected={
            "encoder_output": "batch token (direction hidden)",
            "hidden": _H_C,
            "query": "batch 1 hidden",
            "context": "batch 1 (direction hidden)",
            "att_probs": "batch 1 token",
            "att_vector_input": "batch 1 feature",
            "att_vector": "batch 1 feature",
        },
        notes={
            "hidden": "the decoder LSTM's (h_n, c_n) after one step; its out was discarded",
            "query": "the decoder's top layer h_n (layer 1, forward), one step",
            "context": "attention-weighted sum of the encoder output over tokens",
            "att_probs": "0 at padding tokens",
            "att_vector_input": "query (hidden) then context (direction hidden), "
            "joined on the last axis",
            "att_vector": "tanh(att_vector_layer(...)): the Luong attentional vector",
        },
        not_counted={
            "prev_embed": "the target embedding of this step, an input",
            "prev_att_vector": _NOT_ZERO_START,
            "rnn_input": "embedding and the zero previous attention vector, at the first step",
            "src_mask": "the source mask, an input",
        },
    ),
    WildStop(
        "RecurrentDecoder.forward",
        "return outputs, hidden, att_probs, att_vectors",
        expected={
            "encoder_output": "batch token (direction hidden)",
            "encoder_hidden": "batch (direction hidden)",
            "prev_att_vector": "batch 1 feature",
            "att_prob": "batch 1 token",
            "att_vectors": "batch step feature",
            "att_probs": "batch step token",
            "outputs": "batch step feature",
            "h": "(layer direction) batch hidden",
            "c": "(layer direction) batch hidden",
            "hidden": "(batch (layer direction) hidden, batch (layer direction) hidden)",
        },
        notes={
            "encoder_hidden": "the encoder's last layer, forward then backward",
            "prev_att_vector": "the last step's attentional vector",
            "att_prob": "the last step's attention over source tokens",
            "att_vectors": "one attentional vector per decoder step, cat on dim 1",
            "att_probs": "attention over source tokens per decoder step; 0 at padding",
            "outputs": "vocabulary scores per step (output_layer)",
            "h": "the decoder's h_n after the last step",
            "c": "the decoder's c_n after the last step",
            "hidden": "(h_n, c_n) permuted batch-first for DataParallel",
        },
        not_counted={
            "trg_embed": "the target embeddings, an input",
            "prev_embed": "the last step's target embedding",
            "src_mask": "the source mask, an input",
            "batch_size": "an int",
            "i": "an int",
            "unroll_steps": "an int",
        },
    ),
)
