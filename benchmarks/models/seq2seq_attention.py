"""An attention seq2seq: a batch-first GRU encoder, Bahdanau attention, a GRU decoder, greedy.

After PyTorch's tutorial "NLP From Scratch: Translation with a Sequence to Sequence
Network and Attention", intermediate_source/seq2seq_translation_tutorial.py:
https://github.com/pytorch/tutorials/blob/main/intermediate_source/seq2seq_translation_tutorial.py
(`EncoderRNN`, `BahdanauAttention`, `AttnDecoderRNN`). As there: the decoder starts from
the encoder's `h_n`, each step's query is `hidden.permute(1, 0, 2)`, the attention scores
are squeezed and unsqueezed to `(batch, 1, token)`, the context is a `bmm` with the
encoder outputs, and the step outputs are joined with `cat` and `log_softmax`. The
tutorial calls encoder and decoder one after the other in its training loop; `Seq2Seq`
does the same in one module, so that one `attach_hooks` covers both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import Stop

__all__ = ["SHAPES", "STOPS", "AttnDecoderRNN", "BahdanauAttention", "EncoderRNN", "make"]

SOS_token = 0
MAX_LENGTH = 4
BATCH, SOURCE, HIDDEN, VOCAB = 3, 5, 4, 9


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.gru(embedded)
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        attentions = []
        for i in range(MAX_LENGTH):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs
            )
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)
            if target_tensor is not None:
                decoder_input = target_tensor[:, i].unsqueeze(1)  # teacher forcing
            else:
                _, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze(-1).detach()  # its own prediction
        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
        attentions = torch.cat(attentions, dim=1)
        return decoder_outputs, decoder_hidden, attentions

    def forward_step(self, input, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(input))
        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_gru = torch.cat((embedded, context), dim=2)
        output, hidden = self.gru(input_gru, hidden)
        output = self.out(output)
        return output, hidden, attn_weights


class Seq2Seq(nn.Module):
    def __init__(self, input_size=VOCAB, hidden_size=HIDDEN, output_size=VOCAB):
        super().__init__()
        self.encoder = EncoderRNN(input_size, hidden_size)
        self.decoder = AttnDecoderRNN(hidden_size, output_size)

    def forward(self, input_tensor, target_tensor=None):
        encoder_outputs, encoder_hidden = self.encoder(input_tensor)
        return self.decoder(encoder_outputs, encoder_hidden, target_tensor)


def make() -> tuple[Seq2Seq, tuple[object, ...]]:
    """Three source sentences of 5 ids, decoded greedily (no target) for MAX_LENGTH steps."""
    model = Seq2Seq()
    return model, (torch.randint(1, VOCAB, (BATCH, SOURCE)),)


SHAPES = ((BATCH, MAX_LENGTH, VOCAB), (1, BATCH, HIDDEN), (BATCH, MAX_LENGTH, SOURCE))
"""log-probabilities (batch, step, vocab), the decoder's h_n, attentions (batch, step, token)."""

_IDS = "token ids picked from the head's scores"
STOPS = (
    Stop("EncoderRNN.forward", "return output, hidden", derived=("output", "hidden")),
    Stop(  # first call: query comes from the encoder's h_n, keys are its outputs
        "BahdanauAttention.forward",
        "return context, weights",
        derived=("query", "keys", "scores", "weights", "context"),
    ),
    Stop(  # first step
        "AttnDecoderRNN.forward_step",
        "return output, hidden, attn_weights",
        derived=(
            "hidden",
            "encoder_outputs",
            "query",
            "context",
            "attn_weights",
            "input_gru",
            "output",
        ),
        not_counted={"input": "the decoder's input ids", "embedded": "their embedding"},
    ),
    Stop(
        "AttnDecoderRNN.forward",
        "return decoder_outputs, decoder_hidden, attentions",
        derived=(
            "encoder_outputs",
            "encoder_hidden",
            "decoder_hidden",
            "decoder_output",
            "attn_weights",
            "decoder_outputs",
            "attentions",
        ),
        not_counted={"decoder_input": _IDS, "topi": _IDS},
    ),
)
