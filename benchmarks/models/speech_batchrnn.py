"""A DeepSpeech2-style acoustic model: a masked conv front end, a stack of packed BatchRNN
layers (sequence-wise batch norm, a time-major bidirectional LSTM, the two directions
summed), a sequence-wise Linear head.

After deepspeech_pytorch/model.py of SeanNaren/deepspeech.pytorch (`SequenceWise`,
`MaskConv`, `BatchRNN`, `DeepSpeech.forward`):
https://github.com/SeanNaren/deepspeech.pytorch/blob/master/deepspeech_pytorch/model.py
(read at b88a631). As there: the first BatchRNN without batch norm, each packing its
`(token, batch, feature)` input, unpacking, and summing directions with
`view(T, N, 2, -1).sum(2).view(T, N, -1)`; the forward collecting each layer's `(h, c)`
in `new_hs`; the head's output transposed to `(batch, token, classes)`. The conv stack is
one layer here, padded so that it keeps the number of frames, and the module is a plain
`nn.Module` rather than a LightningModule (no training step, CTC loss or decoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import Stop

__all__ = ["SHAPES", "STOPS", "BatchRNN", "DeepSpeech", "make"]

BATCH, FREQ, FRAMES, HIDDEN, CLASSES = 3, 8, 10, 4, 6
LENGTHS = (10, 8, 5)  # descending: packed with enforce_sorted=True, as the original


class SequenceWise(nn.Module):
    """Applies a module to a (T, N, H) input as (T·N, H)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        t, n = x.size(0), x.size(1)
        x = x.view(t * n, -1)
        x = self.module(x)
        x = x.view(t, n, -1)
        return x


class MaskConv(nn.Module):
    """Runs the conv stack on (N, C, D, T), zeroing the frames past each sequence's length."""

    def __init__(self, seq_module):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x, lengths):
        for module in self.seq_module:
            x = module(x)
            mask = torch.zeros(x.size(), dtype=torch.bool, device=x.device)
            for i, length in enumerate(lengths):
                length = length.item()
                if (mask[i].size(2) - length) > 0:
                    mask[i].narrow(2, length, mask[i].size(2) - length).fill_(True)
            x = x.masked_fill(mask, 0)
        return x, lengths


class InferenceBatchSoftmax(nn.Module):
    def forward(self, input_):
        return input_ if self.training else F.softmax(input_, dim=-1)


class BatchRNN(nn.Module):
    def __init__(
        self, input_size, hidden_size, rnn_type=nn.LSTM, bidirectional=False, batch_norm=True
    ):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bidirectional = bidirectional
        self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = rnn_type(
            input_size=input_size, hidden_size=hidden_size, bidirectional=bidirectional, bias=True
        )
        self.num_directions = 2 if bidirectional else 1

    def forward(self, x, output_lengths, h=None):
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        x = nn.utils.rnn.pack_padded_sequence(x, output_lengths)
        x, h = self.rnn(x, h)
        x, _ = nn.utils.rnn.pad_packed_sequence(x)
        if self.bidirectional:
            # (T, N, 2·H) -> (T, N, H): the directions summed
            x = x.view(x.size(0), x.size(1), 2, -1).sum(2).view(x.size(0), x.size(1), -1)
        return x, h


class DeepSpeech(nn.Module):
    def __init__(self, freq=FREQ, hidden_size=HIDDEN, hidden_layers=2, num_classes=CLASSES):
        super().__init__()
        self.bidirectional = True
        self.conv = MaskConv(
            nn.Sequential(
                nn.Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1)),
                nn.BatchNorm2d(2),
                nn.Hardtanh(0, 20, inplace=True),
            )
        )
        rnn_input_size = (freq + 2 * 1 - 3) // 2 + 1  # the conv's output height
        rnn_input_size *= 2  # its channels
        self.rnns = nn.Sequential(
            BatchRNN(rnn_input_size, hidden_size, bidirectional=True, batch_norm=False),
            *(
                BatchRNN(hidden_size, hidden_size, bidirectional=True)
                for _ in range(hidden_layers - 1)
            ),
        )
        fully_connected = nn.Sequential(
            nn.BatchNorm1d(hidden_size), nn.Linear(hidden_size, num_classes, bias=False)
        )
        self.fc = nn.Sequential(SequenceWise(fully_connected))
        self.inference_softmax = InferenceBatchSoftmax()

    def get_seq_lens(self, input_length):
        seq_len = input_length
        for m in self.conv.modules():
            if isinstance(m, nn.modules.conv.Conv2d):
                seq_len = (
                    seq_len + 2 * m.padding[1] - m.dilation[1] * (m.kernel_size[1] - 1) - 1
                ) // m.stride[1] + 1
        return seq_len.int()

    def forward(self, x, lengths, hs=None):
        lengths = lengths.cpu().int()
        output_lengths = self.get_seq_lens(lengths)
        x, _ = self.conv(x, output_lengths)
        sizes = x.size()
        x = x.view(sizes[0], sizes[1] * sizes[2], sizes[3])  # collapse the feature dims
        x = x.transpose(1, 2).transpose(0, 1).contiguous()  # (T, N, H)
        if hs is None:
            hs = [None] * len(self.rnns)
        new_hs = []
        for i, rnn in enumerate(self.rnns):
            x, h = rnn(x, output_lengths, hs[i])
            new_hs.append(h)
        x = self.fc(x)
        x = x.transpose(0, 1)
        x = self.inference_softmax(x)  # identity in training mode, softmax in eval mode
        return x, output_lengths, new_hs


def make() -> tuple[DeepSpeech, tuple[object, ...]]:
    """Three spectrograms (N, 1, FREQ, FRAMES) of 10, 8 and 5 frames; training mode."""
    model = DeepSpeech()
    spect = torch.randn(BATCH, 1, FREQ, FRAMES)
    for row, n in enumerate(LENGTHS):
        spect[row, ..., n:] = 0
    return model, (spect, torch.tensor(LENGTHS))


_LSTM_STATE = ((2, BATCH, HIDDEN), (2, BATCH, HIDDEN))
SHAPES = ((BATCH, FRAMES, CLASSES), (BATCH,), [_LSTM_STATE, _LSTM_STATE])
"""Outputs (batch, token, classes), the output lengths, each layer's (h, c)."""

STOPS = (
    Stop(  # first layer, once unpacked
        "BatchRNN.forward",
        "if self.bidirectional:",
        derived=("x", "h"),
    ),
    Stop(  # first layer, directions summed
        "BatchRNN.forward",
        "return x, h",
        derived=("x", "h"),
        not_counted={"output_lengths": "the lengths"},
    ),
    Stop(
        "DeepSpeech.forward",
        "return x, output_lengths, new_hs",
        derived=("x", "h", "new_hs"),
        not_counted={"output_lengths": "the lengths", "sizes": "the conv output's size"},
    ),
)
