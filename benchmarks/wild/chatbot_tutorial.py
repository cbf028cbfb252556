"""A chatbot: PyTorch's tutorial EncoderRNN, Luong attention decoder and greedy search decoder.

After PyTorch's tutorial "Chatbot Tutorial", beginner_source/chatbot_tutorial.py
(`EncoderRNN`, `Attn`, `LuongAttnDecoderRNN`, `GreedySearchDecoder`; read at 03b2773):
https://github.com/pytorch/tutorials/blob/03b277366b12fc14f56a387cc5ec4cdf1ede744a/beginner_source/chatbot_tutorial.py
As there: a time-major, 2-layer bidirectional GRU encoder over a sorted packed batch whose
two directions are *summed*, `outputs[:, :, :self.hidden_size] + outputs[:, :,
self.hidden_size:]`; a 2-layer unidirectional GRU decoder run one word at a time, started
from `encoder_hidden[:decoder.n_layers]`; "dot" attention `torch.sum(hidden *
encoder_output, dim=2)`, `.t()`, softmax, `.unsqueeze(1)`, and `attn_weights.bmm(
encoder_outputs.transpose(0, 1))`; `cat((rnn_output, context), 1)` through `concat` and
`out`, softmax over the vocabulary; greedy search with `torch.max(decoder_output, dim=1)`
and the picks `cat` along dim 0. The tutorial runs `GreedySearchDecoder` on one sentence;
here on three, so that `batch` has a size of its own; its `decoder.n_layers` (the
tutorial reads the *global* `decoder` there) is `self.decoder.n_layers`.

KNOWN BUG: `encoder_hidden[:decoder.n_layers]` takes the first two rows of an `h_n`
whose rows are (layer direction): layer 0 forward and layer 0 backward. The decoder's two
layers start from the encoder's *first* layer, its layer 1 from a backward state, and the
encoder's last layer is never used. (Also, the attention does not mask padding: padded
source positions, zeros after the sum, score 0 and get weight. Not counted as a bug.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import WildStop

__all__ = ["SHAPES", "STOPS", "Attn", "EncoderRNN", "GreedySearchDecoder", "make"]

SOS_token = 1
VOCAB, HIDDEN, LAYERS, MAX_LENGTH = 9, 4, 2, 3
LENGTHS = (5, 3, 2)  # sorted: pack_padded_sequence's default enforce_sorted=True


class EncoderRNN(nn.Module):
    def __init__(self, hidden_size, embedding, n_layers=1, dropout=0):
        super().__init__()
        self.n_layers = n_layers
        self.hidden_size = hidden_size
        self.embedding = embedding
        self.gru = nn.GRU(
            hidden_size,
            hidden_size,
            n_layers,
            dropout=(0 if n_layers == 1 else dropout),
            bidirectional=True,
        )

    def forward(self, input_seq, input_lengths, hidden=None):
        # Convert word indexes to embeddings
        embedded = self.embedding(input_seq)
        # Pack padded batch of sequences for RNN module
        packed = nn.utils.rnn.pack_padded_sequence(embedded, input_lengths)
        # Forward pass through GRU
        outputs, hidden = self.gru(packed, hidden)
        # Unpack padding
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs)
        # Sum bidirectional GRU outputs
        outputs = outputs[:, :, : self.hidden_size] + outputs[:, :, self.hidden_size :]
        # Return output and final hidden state
        return outputs, hidden


class Attn(nn.Module):
    def __init__(self, method, hidden_size):
        super().__init__()
        self.method = method
        if self.method not in ["dot", "general", "concat"]:
            raise ValueError(self.method, "is not an appropriate attention method.")
        self.hidden_size = hidden_size
        if self.method == "general":
            self.attn = nn.Linear(self.hidden_size, hidden_size)
        elif self.method == "concat":
            self.attn = nn.Linear(self.hidden_size * 2, hidden_size)
            self.v = nn.Parameter(torch.FloatTensor(hidden_size))

    def dot_score(self, hidden, encoder_output):
        return torch.sum(hidden * encoder_output, dim=2)

    def general_score(self, hidden, encoder_output):
        energy = self.attn(encoder_output)
        return torch.sum(hidden * energy, dim=2)

    def concat_score(self, hidden, encoder_output):
        expanded = hidden.expand(encoder_output.size(0), -1, -1)
        energy = self.attn(torch.cat((expanded, encoder_output), 2)).tanh()
        return torch.sum(self.v * energy, dim=2)

    def forward(self, hidden, encoder_outputs):
        # Calculate the attention weights (energies) based on the given method
        if self.method == "general":
            attn_energies = self.general_score(hidden, encoder_outputs)
        elif self.method == "concat":
            attn_energies = self.concat_score(hidden, encoder_outputs)
        elif self.method == "dot":
            attn_energies = self.dot_score(hidden, encoder_outputs)

        # Transpose max_length and batch_size dimensions
        attn_energies = attn_energies.t()

        # Return the softmax normalized probability scores (with added dimension)
        return F.softmax(attn_energies, dim=1).unsqueeze(1)


class LuongAttnDecoderRNN(nn.Module):
    def __init__(self, attn_model, embedding, hidden_size, output_size, n_layers=1, dropout=0.1):
        super().__init__()
        self.attn_model = attn_model
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.n_layers = n_layers
        self.dropout = dropout

        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            hidden_size, hidden_size, n_layers, dropout=(0 if n_layers == 1 else dropout)
        )
        self.concat = nn.Linear(hidden_size * 2, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)

        self.attn = Attn(attn_model, hidden_size)

    def forward(self, input_step, last_hidden, encoder_outputs):
        # Note: we run this one step (word) at a time
        embedded = self.embedding(input_step)
        embedded = self.embedding_dropout(embedded)
        # Forward through unidirectional GRU
        rnn_output, hidden = self.gru(embedded, last_hidden)
        # Calculate attention weights from the current GRU output
        attn_weights = self.attn(rnn_output, encoder_outputs)
        # Multiply attention weights to encoder outputs: the "weighted sum" context vector
        context = attn_weights.bmm(encoder_outputs.transpose(0, 1))
        # Concatenate weighted context vector and GRU output using Luong eq. 5
        rnn_output = rnn_output.squeeze(0)
        context = context.squeeze(1)
        concat_input = torch.cat((rnn_output, context), 1)
        concat_output = torch.tanh(self.concat(concat_input))
        # Predict next word using Luong eq. 6
        output = self.out(concat_output)
        output = F.softmax(output, dim=1)
        # Return output and final hidden state
        return output, hidden


class GreedySearchDecoder(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, input_seq, input_length, max_length):
        # Forward input through encoder model
        encoder_outputs, encoder_hidden = self.encoder(input_seq, input_length)
        # Prepare encoder's final hidden layer to be first hidden input to the decoder
        # KNOWN BUG: the first n_layers rows of h_n are layer 0's forward and backward
        decoder_hidden = encoder_hidden[: self.decoder.n_layers]
        # Initialize decoder input with SOS_token (one per sentence here, not one)
        decoder_input = torch.ones(1, input_seq.size(1), dtype=torch.long) * SOS_token
        # Initialize tensors to append decoded words to
        all_tokens = torch.zeros([0], dtype=torch.long)
        all_scores = torch.zeros([0])
        # Iteratively decode one word token at a time
        for _ in range(max_length):
            # Forward pass through decoder
            # KNOWN BUG (warned here, at the first step): decoder_hidden holds layer 0's
            # two directions, which the decoder reads as its two layers
            decoder_output, decoder_hidden = self.decoder(
                decoder_input, decoder_hidden, encoder_outputs
            )
            # Obtain most likely word token and its softmax score
            decoder_scores, decoder_input = torch.max(decoder_output, dim=1)
            # Record token and score
            all_tokens = torch.cat((all_tokens, decoder_input), dim=0)
            all_scores = torch.cat((all_scores, decoder_scores), dim=0)
            # Prepare current token to be next decoder input (add a dimension)
            decoder_input = torch.unsqueeze(decoder_input, 0)
        # Return collections of word tokens and scores
        return all_tokens, all_scores


def make() -> tuple[GreedySearchDecoder, tuple[object, ...]]:
    """Three sentences of 5, 3 and 2 ids, time-major (5, 3), zero-padded; eval mode."""
    embedding = nn.Embedding(VOCAB, HIDDEN)
    encoder = EncoderRNN(HIDDEN, embedding, LAYERS, dropout=0.1)
    decoder = LuongAttnDecoderRNN("dot", embedding, HIDDEN, VOCAB, LAYERS, dropout=0.1)
    searcher = GreedySearchDecoder(encoder, decoder).eval()  # as the tutorial evaluates
    input_seq = torch.randint(3, VOCAB, (max(LENGTHS), len(LENGTHS)))
    for col, n in enumerate(LENGTHS):
        input_seq[n:, col] = 0
    return searcher, (input_seq, torch.tensor(LENGTHS), MAX_LENGTH)


_B = len(LENGTHS)
SHAPES = ((MAX_LENGTH * _B,), (MAX_LENGTH * _B,))
"""The picked ids and their probabilities, steps and batch flattened: ((step batch),)."""

_SUMMED = "forward + backward halves of the last layer's output, summed; zeros past each length"
_BUG = (
    "KNOWN BUG: encoder_hidden[:2] = layer 0's forward and backward rows, "
    "fed to the decoder as its layers 0 and 1"
)
STOPS = (
    WildStop(
        "EncoderRNN.forward",
        "return outputs, hidden",
        expected={"outputs": "token batch hidden", "hidden": "(layer direction) batch hidden"},
        notes={"outputs": _SUMMED, "hidden": "h_n of a packed batch"},
        not_counted={
            "embedded": "the embedding, the layer's input",
            "packed": "the recurrent layer's input",
            "input_seq": "the word ids",
            "input_lengths": "the lengths",
        },
    ),
    WildStop(
        "GreedySearchDecoder.forward",
        "decoder_input = torch.ones(",
        expected={
            "encoder_outputs": "token batch hidden",
            "encoder_hidden": "(layer direction) batch hidden",
            "decoder_hidden": "direction batch hidden",
        },
        notes={
            "encoder_outputs": _SUMMED,
            "encoder_hidden": "the encoder's h_n",
            "decoder_hidden": "layer 0 only, both directions; " + _BUG,
        },
        not_counted={
            "input_seq": "the word ids",
            "input_length": "the lengths",
            "max_length": "an int",
        },
    ),
    WildStop(  # the first step: hidden is the decoder GRU's out, one step
        "Attn.forward",
        "return F.softmax(attn_energies, dim=1).unsqueeze(1)",
        expected={
            "hidden": "token batch (direction hidden)",
            "encoder_outputs": "token batch hidden",
            "attn_energies": "batch token",
        },
        notes={
            "hidden": "the decoder GRU's output, one step (token=1), one direction",
            "encoder_outputs": _SUMMED,
            "attn_energies": "dot scores over the encoder's tokens, transposed (.t()); "
            "padding not masked (scores 0 there)",
        },
    ),
    WildStop(  # the first step
        "LuongAttnDecoderRNN.forward",
        "return output, hidden",
        expected={
            "last_hidden": "direction batch hidden",
            "encoder_outputs": "token batch hidden",
            "hidden": "(layer direction) batch hidden",
            "attn_weights": "batch 1 token",
            "context": "batch hidden",
            "rnn_output": "batch (direction hidden)",
            "concat_input": "batch feature",
            "concat_output": "batch feature",
            "output": "batch feature",
        },
        notes={
            "last_hidden": "the encoder's layer 0, forward and backward; " + _BUG,
            "encoder_outputs": _SUMMED,
            "hidden": "the decoder GRU's h_n",
            "attn_weights": "softmax over the encoder's tokens; nonzero at padding",
            "context": "attention-weighted sum of the summed encoder outputs",
            "rnn_output": "the decoder GRU's output, token axis (one step) squeezed",
            "concat_input": "rnn_output (hidden) then context (hidden), on the last axis",
            "concat_output": "tanh(concat(...)), Luong eq. 5",
            "output": "softmax over the vocabulary",
        },
        not_counted={
            "input_step": "the word ids of this step",
            "embedded": "their embedding, the decoder GRU's input",
        },
    ),
    WildStop(
        "GreedySearchDecoder.forward",
        "return all_tokens, all_scores",
        expected={
            "encoder_outputs": "token batch hidden",
            "encoder_hidden": "(layer direction) batch hidden",
            "decoder_hidden": "(layer direction) batch hidden",
            "decoder_output": "batch feature",
            "decoder_scores": "batch",
            "all_scores": "(step batch)",
        },
        notes={
            "encoder_outputs": _SUMMED,
            "decoder_hidden": "the decoder GRU's h_n after the last step",
            "decoder_output": "the last step's probabilities over the vocabulary",
            "decoder_scores": "the picked word's probability, per sentence",
            "all_scores": "step: decoder steps; steps and batch flattened by cat on dim 0",
        },
        not_counted={
            "decoder_input": "the picked ids",
            "all_tokens": "the picked ids",
            "input_seq": "the word ids",
            "input_length": "the lengths",
            "max_length": "an int",
        },
    ),
)
