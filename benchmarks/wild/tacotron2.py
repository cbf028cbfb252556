"""Text to speech: Tacotron 2's BiLSTM encoder and its attention decoder (prenet, context cat).

After NVIDIA/tacotron2, model.py (`Encoder`, `Attention`, `LocationLayer`, `Prenet`,
`Decoder`, `Postnet`, `Tacotron2`; read at 03727ad):
https://github.com/NVIDIA/tacotron2/blob/master/model.py
As there: character embeddings, convolutions, then a batch-first bidirectional LSTM over a
sorted, packed batch (`input_lengths.cpu().numpy()`) whose padded output is the decoder's
`memory`; the decoder keeps its state on `self` (`self.attention_context`,
`self.attention_hidden`...), runs two `nn.LSTMCell`s per step, joins the prenet frame
with the previous attention context (`torch.cat((decoder_input, self.attention_context),
-1)`), scores `memory` with location-sensitive attention masked by
`alignment.data.masked_fill_(mask, -inf)`, takes `bmm(attention_weights.unsqueeze(1),
memory)`, and stacks the steps in `parse_decoder_outputs`. `ConvNorm`/`LinearNorm` are
plain `Conv1d`/`Linear` here, the postnet has two convolutions, and `hparams` is a small
namespace. The prenet's `F.dropout(..., training=True)` is kept: it is on purpose
(dropout at inference too, as the paper has it), not a bug.
"""

# ruff: noqa: RUF059  (the locals a user holds at a breakpoint are the point, used or not)

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

from . import WildStop

__all__ = ["SHAPES", "STOPS", "Tacotron2", "make"]

HPARAMS = SimpleNamespace(
    n_symbols=10,
    symbols_embedding_dim=6,
    encoder_embedding_dim=6,  # the BiLSTM: 3 per direction
    encoder_n_convolutions=2,
    encoder_kernel_size=3,
    n_mel_channels=4,
    n_frames_per_step=1,
    attention_rnn_dim=5,
    decoder_rnn_dim=5,
    prenet_dim=4,
    attention_dim=3,
    attention_location_n_filters=2,
    attention_location_kernel_size=3,
    p_attention_dropout=0.1,
    p_decoder_dropout=0.1,
    postnet_embedding_dim=4,
    postnet_kernel_size=3,
    mask_padding=True,
)
TEXT_LENGTHS = (5, 4, 2)  # sorted, longest first, as the collate function leaves them
MEL_LENGTHS = (4, 3, 4)
BATCH, MEL_FRAMES = len(TEXT_LENGTHS), max(MEL_LENGTHS)


def get_mask_from_lengths(lengths):
    max_len = torch.max(lengths).item()
    ids = torch.arange(0, max_len)
    mask = (ids < lengths.unsqueeze(1)).bool()
    return mask


class LocationLayer(nn.Module):
    def __init__(self, attention_n_filters, attention_kernel_size, attention_dim):
        super().__init__()
        padding = int((attention_kernel_size - 1) / 2)
        self.location_conv = nn.Conv1d(
            2, attention_n_filters, kernel_size=attention_kernel_size, padding=padding, bias=False
        )
        self.location_dense = nn.Linear(attention_n_filters, attention_dim, bias=False)

    def forward(self, attention_weights_cat):
        processed_attention = self.location_conv(attention_weights_cat)
        processed_attention = processed_attention.transpose(1, 2)
        processed_attention = self.location_dense(processed_attention)
        return processed_attention


class Attention(nn.Module):
    def __init__(
        self,
        attention_rnn_dim,
        embedding_dim,
        attention_dim,
        attention_location_n_filters,
        attention_location_kernel_size,
    ):
        super().__init__()
        self.query_layer = nn.Linear(attention_rnn_dim, attention_dim, bias=False)
        self.memory_layer = nn.Linear(embedding_dim, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=False)
        self.location_layer = LocationLayer(
            attention_location_n_filters, attention_location_kernel_size, attention_dim
        )
        self.score_mask_value = -float("inf")

    def get_alignment_energies(self, query, processed_memory, attention_weights_cat):
        processed_query = self.query_layer(query.unsqueeze(1))
        processed_attention_weights = self.location_layer(attention_weights_cat)
        energies = self.v(
            torch.tanh(processed_query + processed_attention_weights + processed_memory)
        )
        energies = energies.squeeze(-1)
        return energies

    def forward(
        self, attention_hidden_state, memory, processed_memory, attention_weights_cat, mask
    ):
        alignment = self.get_alignment_energies(
            attention_hidden_state, processed_memory, attention_weights_cat
        )
        if mask is not None:
            alignment.data.masked_fill_(mask, self.score_mask_value)

        attention_weights = F.softmax(alignment, dim=1)
        attention_context = torch.bmm(attention_weights.unsqueeze(1), memory)
        attention_context = attention_context.squeeze(1)
        return attention_context, attention_weights


class Prenet(nn.Module):
    def __init__(self, in_dim, sizes):
        super().__init__()
        in_sizes = [in_dim, *sizes[:-1]]
        self.layers = nn.ModuleList(
            [
                nn.Linear(in_size, out_size, bias=False)
                for in_size, out_size in zip(in_sizes, sizes, strict=True)
            ]
        )

    def forward(self, x):
        for linear in self.layers:
            x = F.dropout(F.relu(linear(x)), p=0.5, training=True)  # on purpose, see above
        return x


class Postnet(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        pad = int((hparams.postnet_kernel_size - 1) / 2)
        self.convolutions = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv1d(hparams.n_mel_channels, hparams.postnet_embedding_dim,
                              hparams.postnet_kernel_size, padding=pad),
                    nn.BatchNorm1d(hparams.postnet_embedding_dim),
                ),
                nn.Sequential(
                    nn.Conv1d(hparams.postnet_embedding_dim, hparams.n_mel_channels,
                              hparams.postnet_kernel_size, padding=pad),
                    nn.BatchNorm1d(hparams.n_mel_channels),
                ),
            ]
        )  # fmt: skip

    def forward(self, x):
        for i in range(len(self.convolutions) - 1):
            x = F.dropout(torch.tanh(self.convolutions[i](x)), 0.5, self.training)
        x = F.dropout(self.convolutions[-1](x), 0.5, self.training)
        return x


class Encoder(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        convolutions = []
        for _ in range(hparams.encoder_n_convolutions):
            conv_layer = nn.Sequential(
                nn.Conv1d(
                    hparams.encoder_embedding_dim,
                    hparams.encoder_embedding_dim,
                    kernel_size=hparams.encoder_kernel_size,
                    padding=int((hparams.encoder_kernel_size - 1) / 2),
                ),
                nn.BatchNorm1d(hparams.encoder_embedding_dim),
            )
            convolutions.append(conv_layer)
        self.convolutions = nn.ModuleList(convolutions)
        self.lstm = nn.LSTM(
            hparams.encoder_embedding_dim,
            int(hparams.encoder_embedding_dim / 2),
            1,
            batch_first=True,
            bidirectional=True,
        )

    def forward(self, x, input_lengths):
        for conv in self.convolutions:
            x = F.dropout(F.relu(conv(x)), 0.5, self.training)

        x = x.transpose(1, 2)

        # pytorch tensor are not reversible, hence the conversion
        input_lengths = input_lengths.cpu().numpy()
        x = nn.utils.rnn.pack_padded_sequence(x, input_lengths, batch_first=True)

        self.lstm.flatten_parameters()
        outputs, _ = self.lstm(x)

        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True)

        return outputs


class Decoder(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        self.n_mel_channels = hparams.n_mel_channels
        self.n_frames_per_step = hparams.n_frames_per_step
        self.encoder_embedding_dim = hparams.encoder_embedding_dim
        self.attention_rnn_dim = hparams.attention_rnn_dim
        self.decoder_rnn_dim = hparams.decoder_rnn_dim
        self.prenet_dim = hparams.prenet_dim
        self.p_attention_dropout = hparams.p_attention_dropout
        self.p_decoder_dropout = hparams.p_decoder_dropout

        self.prenet = Prenet(
            hparams.n_mel_channels * hparams.n_frames_per_step,
            [hparams.prenet_dim, hparams.prenet_dim],
        )
        self.attention_rnn = nn.LSTMCell(
            hparams.prenet_dim + hparams.encoder_embedding_dim, hparams.attention_rnn_dim
        )
        self.attention_layer = Attention(
            hparams.attention_rnn_dim,
            hparams.encoder_embedding_dim,
            hparams.attention_dim,
            hparams.attention_location_n_filters,
            hparams.attention_location_kernel_size,
        )
        self.decoder_rnn = nn.LSTMCell(
            hparams.attention_rnn_dim + hparams.encoder_embedding_dim, hparams.decoder_rnn_dim, 1
        )
        self.linear_projection = nn.Linear(
            hparams.decoder_rnn_dim + hparams.encoder_embedding_dim,
            hparams.n_mel_channels * hparams.n_frames_per_step,
        )
        self.gate_layer = nn.Linear(hparams.decoder_rnn_dim + hparams.encoder_embedding_dim, 1)

    def get_go_frame(self, memory):
        B = memory.size(0)
        decoder_input = memory.data.new(B, self.n_mel_channels * self.n_frames_per_step).zero_()
        return decoder_input

    def initialize_decoder_states(self, memory, mask):
        B = memory.size(0)
        MAX_TIME = memory.size(1)

        self.attention_hidden = memory.data.new(B, self.attention_rnn_dim).zero_()
        self.attention_cell = memory.data.new(B, self.attention_rnn_dim).zero_()

        self.decoder_hidden = memory.data.new(B, self.decoder_rnn_dim).zero_()
        self.decoder_cell = memory.data.new(B, self.decoder_rnn_dim).zero_()

        self.attention_weights = memory.data.new(B, MAX_TIME).zero_()
        self.attention_weights_cum = memory.data.new(B, MAX_TIME).zero_()
        self.attention_context = memory.data.new(B, self.encoder_embedding_dim).zero_()

        self.memory = memory
        self.processed_memory = self.attention_layer.memory_layer(memory)
        self.mask = mask

    def parse_decoder_inputs(self, decoder_inputs):
        # (B, n_mel_channels, T_out) -> (B, T_out, n_mel_channels)
        decoder_inputs = decoder_inputs.transpose(1, 2)
        decoder_inputs = decoder_inputs.view(
            decoder_inputs.size(0), int(decoder_inputs.size(1) / self.n_frames_per_step), -1
        )
        # (B, T_out, n_mel_channels) -> (T_out, B, n_mel_channels)
        decoder_inputs = decoder_inputs.transpose(0, 1)
        return decoder_inputs

    def parse_decoder_outputs(self, mel_outputs, gate_outputs, alignments):
        # (T_out, B) -> (B, T_out)
        alignments = torch.stack(alignments).transpose(0, 1)
        # (T_out, B) -> (B, T_out)
        gate_outputs = torch.stack(gate_outputs).transpose(0, 1)
        gate_outputs = gate_outputs.contiguous()
        # (T_out, B, n_mel_channels) -> (B, T_out, n_mel_channels)
        mel_outputs = torch.stack(mel_outputs).transpose(0, 1).contiguous()
        # decouple frames per step
        mel_outputs = mel_outputs.view(mel_outputs.size(0), -1, self.n_mel_channels)
        # (B, T_out, n_mel_channels) -> (B, n_mel_channels, T_out)
        mel_outputs = mel_outputs.transpose(1, 2)
        return mel_outputs, gate_outputs, alignments

    def decode(self, decoder_input):
        cell_input = torch.cat((decoder_input, self.attention_context), -1)
        self.attention_hidden, self.attention_cell = self.attention_rnn(
            cell_input, (self.attention_hidden, self.attention_cell)
        )
        self.attention_hidden = F.dropout(
            self.attention_hidden, self.p_attention_dropout, self.training
        )

        attention_weights_cat = torch.cat(
            (self.attention_weights.unsqueeze(1), self.attention_weights_cum.unsqueeze(1)), dim=1
        )
        self.attention_context, self.attention_weights = self.attention_layer(
            self.attention_hidden,
            self.memory,
            self.processed_memory,
            attention_weights_cat,
            self.mask,
        )

        self.attention_weights_cum += self.attention_weights
        decoder_input = torch.cat((self.attention_hidden, self.attention_context), -1)
        self.decoder_hidden, self.decoder_cell = self.decoder_rnn(
            decoder_input, (self.decoder_hidden, self.decoder_cell)
        )
        self.decoder_hidden = F.dropout(self.decoder_hidden, self.p_decoder_dropout, self.training)

        decoder_hidden_attention_context = torch.cat(
            (self.decoder_hidden, self.attention_context), dim=1
        )
        decoder_output = self.linear_projection(decoder_hidden_attention_context)

        gate_prediction = self.gate_layer(decoder_hidden_attention_context)
        return decoder_output, gate_prediction, self.attention_weights

    def forward(self, memory, decoder_inputs, memory_lengths):
        decoder_input = self.get_go_frame(memory).unsqueeze(0)
        decoder_inputs = self.parse_decoder_inputs(decoder_inputs)
        decoder_inputs = torch.cat((decoder_input, decoder_inputs), dim=0)
        decoder_inputs = self.prenet(decoder_inputs)

        self.initialize_decoder_states(memory, mask=~get_mask_from_lengths(memory_lengths))

        mel_outputs, gate_outputs, alignments = [], [], []
        while len(mel_outputs) < decoder_inputs.size(0) - 1:
            decoder_input = decoder_inputs[len(mel_outputs)]
            mel_output, gate_output, attention_weights = self.decode(decoder_input)
            mel_outputs += [mel_output.squeeze(1)]
            gate_outputs += [gate_output.squeeze(1)]
            alignments += [attention_weights]

        mel_outputs, gate_outputs, alignments = self.parse_decoder_outputs(
            mel_outputs, gate_outputs, alignments
        )
        return mel_outputs, gate_outputs, alignments


class Tacotron2(nn.Module):
    def __init__(self, hparams=HPARAMS):
        super().__init__()
        self.mask_padding = hparams.mask_padding
        self.n_mel_channels = hparams.n_mel_channels
        self.n_frames_per_step = hparams.n_frames_per_step
        self.embedding = nn.Embedding(hparams.n_symbols, hparams.symbols_embedding_dim)
        self.encoder = Encoder(hparams)
        self.decoder = Decoder(hparams)
        self.postnet = Postnet(hparams)

    def parse_output(self, outputs, output_lengths=None):
        if self.mask_padding and output_lengths is not None:
            mask = ~get_mask_from_lengths(output_lengths)
            mask = mask.expand(self.n_mel_channels, mask.size(0), mask.size(1))
            mask = mask.permute(1, 0, 2)

            outputs[0].data.masked_fill_(mask, 0.0)
            outputs[1].data.masked_fill_(mask, 0.0)
            outputs[2].data.masked_fill_(mask[:, 0, :], 1e3)  # gate energies
        return outputs

    def forward(self, inputs):
        text_inputs, text_lengths, mels, max_len, output_lengths = inputs
        text_lengths, output_lengths = text_lengths.data, output_lengths.data

        embedded_inputs = self.embedding(text_inputs).transpose(1, 2)

        encoder_outputs = self.encoder(embedded_inputs, text_lengths)

        mel_outputs, gate_outputs, alignments = self.decoder(
            encoder_outputs, mels, memory_lengths=text_lengths
        )

        mel_outputs_postnet = self.postnet(mel_outputs)
        mel_outputs_postnet = mel_outputs + mel_outputs_postnet

        return self.parse_output(
            [mel_outputs, mel_outputs_postnet, gate_outputs, alignments], output_lengths
        )


def make() -> tuple[Tacotron2, tuple[object, ...]]:
    """Three texts of 5, 4 and 2 symbols (sorted), mels of 4, 3 and 4 frames (teacher forcing)."""
    text = torch.randint(1, HPARAMS.n_symbols, (BATCH, max(TEXT_LENGTHS)))
    for row, n in enumerate(TEXT_LENGTHS):
        text[row, n:] = 0
    mels = torch.randn(BATCH, HPARAMS.n_mel_channels, MEL_FRAMES)
    for row, n in enumerate(MEL_LENGTHS):
        mels[row, :, n:] = 0
    inputs = (text, torch.tensor(TEXT_LENGTHS), mels, max(TEXT_LENGTHS), torch.tensor(MEL_LENGTHS))
    return Tacotron2(), (inputs,)


_MEL = (BATCH, HPARAMS.n_mel_channels, MEL_FRAMES)
SHAPES = [_MEL, _MEL, (BATCH, MEL_FRAMES), (BATCH, MEL_FRAMES, max(TEXT_LENGTHS))]
"""mel outputs and postnet-refined mels (batch, n_mel, step), gate energies (batch, step),
alignments (batch, step, token): a list, as parse_output returns it."""

_MEMORY = "the encoder's padded output (memory)"
_STEP = "step: decoder steps (mel frames), an axis no layer call returned"
STOPS = (
    WildStop(
        "Encoder.forward",
        "return outputs",
        expected={"outputs": "batch token (direction hidden)"},
        notes={"outputs": "padded: zeros past each text length"},
        not_counted={
            "x": "the packed convolution features, the layer's input",
            "input_lengths": "the lengths, as a numpy array",
            "conv": "the last convolution module",
        },
    ),
    WildStop(  # the first decoder step
        "Attention.forward",
        "return attention_context, attention_weights",
        expected={
            "memory": "batch token (direction hidden)",
            "processed_memory": "batch token feature",
            "alignment": "batch token",
            "attention_weights": "batch token",
            "attention_context": "batch (direction hidden)",
        },
        notes={
            "memory": _MEMORY,
            "processed_memory": "memory_layer(memory), computed once per utterance",
            "alignment": "energies over text tokens; -inf at padding (masked_fill_ on .data)",
            "attention_weights": "softmax over text tokens: 0 at padding",
            "attention_context": "attention-weighted sum of memory over tokens",
        },
        not_counted={
            "attention_hidden_state": "the attention LSTMCell's state: no nn.LSTM/GRU/RNN "
            "axis, and at the first step it has seen no encoder output",
            "attention_weights_cat": "previous and cumulative weights: zeros at the first step",
            "mask": "the padding mask",
        },
    ),
    WildStop(  # the first decoder step
        "Decoder.decode",
        "return decoder_output, gate_prediction, self.attention_weights",
        expected={
            "decoder_input": "batch feature",
            "decoder_hidden_attention_context": "batch feature",
            "decoder_output": "batch feature",
            "gate_prediction": "batch feature",
        },
        notes={
            "decoder_input": "rebound: attention LSTMCell state then attention context "
            "(direction hidden), joined on the last axis",
            "decoder_hidden_attention_context": "decoder LSTMCell state then attention "
            "context, joined on the last axis",
            "decoder_output": "one mel frame (linear_projection)",
            "gate_prediction": "the stop-token energy (feature of size 1)",
        },
        not_counted={
            "cell_input": "prenet frame and the previous context, zeros at the first step",
            "attention_weights_cat": "previous and cumulative weights: zeros at the first step",
        },
    ),
    WildStop(
        "Decoder.forward",
        "return mel_outputs, gate_outputs, alignments",
        expected={
            "memory": "batch token (direction hidden)",
            "mel_output": "batch feature",
            "gate_output": "batch feature",
            "attention_weights": "batch token",
            "mel_outputs": "batch feature step",
            "gate_outputs": "batch step",
            "alignments": "batch step token",
        },
        notes={
            "memory": _MEMORY,
            "mel_output": "the last step's mel frame",
            "gate_output": "the last step's gate energy",
            "attention_weights": "the last step's weights over text tokens",
            "mel_outputs": "mel frames stacked over steps, channels first; " + _STEP,
            "gate_outputs": _STEP,
            "alignments": "attention weights per step over text tokens; " + _STEP,
        },
        not_counted={
            "decoder_inputs": "prenet of the teacher-forced mels, an input",
            "decoder_input": "the last teacher-forced prenet frame",
            "memory_lengths": "the lengths",
        },
    ),
    WildStop(
        "Tacotron2.forward",
        "return self.parse_output(",
        expected={
            "encoder_outputs": "batch token (direction hidden)",
            "mel_outputs": "batch feature step",
            "gate_outputs": "batch step",
            "alignments": "batch step token",
            "mel_outputs_postnet": "batch feature step",
        },
        notes={
            "encoder_outputs": _MEMORY,
            "mel_outputs": _STEP,
            "gate_outputs": _STEP,
            "alignments": _STEP,
            "mel_outputs_postnet": "mels plus the postnet's residual; " + _STEP,
        },
        not_counted={
            "inputs": "the input tuple (ids, lengths, target mels, ...)",
            "text_inputs": "the symbol ids",
            "embedded_inputs": "the embedding, before the encoder",
            "mels": "the target mels, an input",
            "text_lengths": "the lengths",
            "output_lengths": "the lengths",
            "max_len": "an int",
        },
    ),
)
