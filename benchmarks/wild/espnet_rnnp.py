"""Speech recognition encoder: ESPnet's BLSTMP, one BLSTM per layer, each projected, subsampled.

After espnet/espnet, espnet/nets/pytorch_backend/rnn/encoders.py (`RNNP` and `Encoder`,
read at 24c3676):
https://github.com/espnet/espnet/blob/24c3676a8d4c2e60d2726e9bcd9bdbed740610e0/espnet/nets/pytorch_backend/rnn/encoders.py
(the `etype="blstmp"` encoder of ESPnet's RNN attention/CTC ASR recipes). As there: each
layer is its own 1-layer batch-first bidirectional LSTM over a sorted, packed batch of
acoustic frames; its padded output is subsampled by `ys_pad[:, ::sub]` (and the lengths by
`int(i + 1) // sub`), flattened with `ys_pad.contiguous().view(-1, ys_pad.size(2))` for
the bottleneck Linear, viewed back to `(B, T, hdim)`, and `tanh(F.dropout(...))` between
layers; `Encoder` zeroes the padded frames with `masked_fill(make_pad_mask(ilens))`.
`make_pad_mask` is a short stand-in for ESPnet's nets_utils one, and the VGG front end,
`prev_state` streaming and `logging` calls are left out.

KNOWN BUG: `F.dropout(xs_pad, p=self.dropout)` between layers does not pass
`training=self.training`, and `F.dropout`'s `training` defaults to True: the inter-layer
dropout also runs in eval mode, at decoding time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import WildStop

__all__ = ["RNNP", "SHAPES", "STOPS", "Encoder", "make"]

BATCH, FRAMES, IDIM, EUNITS, EPROJS, ELAYERS = 3, 8, 3, 4, 5, 2
ILENS = (8, 6, 3)  # sorted, longest first, as ESPnet's batches are
SUBSAMPLE = (1, 2, 1)  # the input, then one factor per layer: layer 0's output is halved


def make_pad_mask(lengths):
    """True at padded frames: (batch, max(lengths))."""
    lengths = torch.as_tensor(lengths)
    seq_range = torch.arange(int(lengths.max()))
    return seq_range.unsqueeze(0) >= lengths.unsqueeze(1)


class RNNP(torch.nn.Module):
    """RNN with projection layer module"""

    def __init__(self, idim, elayers, cdim, hdim, subsample, dropout, typ="blstm"):
        super().__init__()
        bidir = typ[0] == "b"
        for i in range(elayers):
            inputdim = idim if i == 0 else hdim
            RNN = torch.nn.LSTM if "lstm" in typ else torch.nn.GRU
            rnn = RNN(inputdim, cdim, num_layers=1, bidirectional=bidir, batch_first=True)
            setattr(self, "{}{}".format("birnn" if bidir else "rnn", i), rnn)
            # bottleneck layer to merge
            if bidir:
                setattr(self, f"bt{i}", torch.nn.Linear(2 * cdim, hdim))
            else:
                setattr(self, f"bt{i}", torch.nn.Linear(cdim, hdim))

        self.elayers = elayers
        self.cdim = cdim
        self.subsample = subsample
        self.typ = typ
        self.bidir = bidir
        self.dropout = dropout

    def forward(self, xs_pad, ilens, prev_state=None):
        elayer_states = []
        for layer in range(self.elayers):
            if not isinstance(ilens, torch.Tensor):
                ilens = torch.tensor(ilens)
            xs_pack = pack_padded_sequence(xs_pad, ilens.cpu(), batch_first=True)
            rnn = getattr(self, ("birnn" if self.bidir else "rnn") + str(layer))
            if self.training:
                rnn.flatten_parameters()
            ys, states = rnn(xs_pack, hx=None if prev_state is None else prev_state[layer])
            elayer_states.append(states)
            # ys: utt list of frame x cdim x 2 (2: means bidirectional)
            ys_pad, ilens = pad_packed_sequence(ys, batch_first=True)
            sub = self.subsample[layer + 1]
            if sub > 1:
                ys_pad = ys_pad[:, ::sub]
                ilens = torch.tensor([int(i + 1) // sub for i in ilens])
            # (sum _utt frame_utt) x dim
            projection_layer = getattr(self, f"bt{layer}")
            projected = projection_layer(ys_pad.contiguous().view(-1, ys_pad.size(2)))
            xs_pad = projected.view(ys_pad.size(0), ys_pad.size(1), -1)
            if layer < self.elayers - 1:
                # KNOWN BUG: no training=self.training, so this also drops out in eval mode
                xs_pad = torch.tanh(F.dropout(xs_pad, p=self.dropout))

        return xs_pad, ilens, elayer_states  # x: utt list of frame x dim


class Encoder(torch.nn.Module):
    """Encoder module (etype "blstmp": RNNP only, no VGG front end)"""

    def __init__(self, etype, idim, elayers, eunits, eprojs, subsample, dropout):
        super().__init__()
        typ = etype.lstrip("vgg").rstrip("p")  # noqa: B005  (the original's)
        self.enc = torch.nn.ModuleList(
            [RNNP(idim, elayers, eunits, eprojs, subsample, dropout, typ=typ)]
        )

    def forward(self, xs_pad, ilens, prev_states=None):
        if prev_states is None:
            prev_states = [None] * len(self.enc)
        assert len(prev_states) == len(self.enc)

        current_states = []
        for module, prev_state in zip(self.enc, prev_states, strict=True):
            xs_pad, ilens, states = module(xs_pad, ilens, prev_state=prev_state)
            current_states.append(states)

        # make mask to remove bias value in padded part
        mask = make_pad_mask(ilens).unsqueeze(-1)

        return xs_pad.masked_fill(mask, 0.0), ilens, current_states


def make() -> tuple[Encoder, tuple[object, ...]]:
    """Three utterances of 8, 6 and 3 frames of 3 features (zero-padded, sorted)."""
    xs_pad = torch.randn(BATCH, FRAMES, IDIM)
    for row, n in enumerate(ILENS):
        xs_pad[row, n:] = 0
    model = Encoder("blstmp", IDIM, ELAYERS, EUNITS, EPROJS, SUBSAMPLE, dropout=0.2)
    return model, (xs_pad, torch.tensor(ILENS))


_T = (FRAMES + 1) // 2
_STATE = ((2, BATCH, EUNITS), (2, BATCH, EUNITS))
SHAPES = ((BATCH, _T, EPROJS), (BATCH,), [[_STATE, _STATE]])
"""The projected frames (batch, token/2, eprojs) with padding zeroed, the subsampled
lengths, and each RNNP's list of per-layer (h_n, c_n)."""

_H_C = "((layer direction) batch hidden, (layer direction) batch hidden)"
STOPS = (
    WildStop(  # layer 0, right after `ys_pad[:, ::sub]`, before the lengths follow
        "RNNP.forward",
        "ilens = torch.tensor([int(i + 1) // sub",
        expected={
            "ys": "batch token (direction hidden)",
            "states": _H_C,
            "elayer_states": f"[{_H_C}]",
            "ys_pad": "batch token (direction hidden)",
        },
        notes={
            "ys": "packed output of birnn0",
            "states": "birnn0's (h_n, c_n): each utterance's real last frame",
            "elayer_states": "one (h_n, c_n) per layer so far",
            "ys_pad": "birnn0's padded output, every 2nd frame kept ([:, ::2]): "
            "token is now subsampled, and the lengths not updated yet",
        },
        not_counted={
            "xs_pad": "the acoustic features, layer 0's input",
            "xs_pack": "layer 0's packed input",
            "ilens": "the lengths",
            "sub": "an int",
            "rnn": "the module",
            "layer": "an int",
            "prev_state": "None",
        },
    ),
    WildStop(
        "RNNP.forward",
        "return xs_pad, ilens, elayer_states",
        expected={
            "xs_pack": "batch token feature",
            "ys": "batch token (direction hidden)",
            "states": _H_C,
            "elayer_states": f"[{_H_C} × 2]",
            "ys_pad": "batch token (direction hidden)",
            "projected": "(batch token) feature",
            "xs_pad": "batch token feature",
        },
        notes={
            "xs_pack": "packed input of birnn1: layer 0's subsampled, projected output",
            "ys": "packed output of birnn1",
            "states": "birnn1's (h_n, c_n)",
            "elayer_states": "(h_n, c_n) of birnn0 and birnn1",
            "ys_pad": "birnn1's padded output (no subsampling in this layer)",
            "projected": "bt1 over the flattened padded output: padding rows hold the bias",
            "xs_pad": "projected viewed back to (batch, token, eprojs); "
            "padding holds the bias until Encoder masks it",
        },
        not_counted={
            "ilens": "the lengths",
            "sub": "an int",
            "rnn": "the module",
            "layer": "an int",
            "prev_state": "None",
            "projection_layer": "the module",
        },
    ),
    WildStop(
        "Encoder.forward",
        "return xs_pad.masked_fill(mask, 0.0)",
        expected={
            "xs_pad": "batch token feature",
            "states": f"[{_H_C} × 2]",
            "current_states": f"[[{_H_C} × 2]]",
        },
        notes={
            "xs_pad": "RNNP's projected output, token subsampled by 2, padding not yet zeroed",
            "states": "RNNP's (h_n, c_n) per layer",
            "current_states": "one list per encoder module",
        },
        not_counted={
            "mask": "the padding mask, from the lengths",
            "ilens": "the lengths",
            "module": "the module",
            "prev_state": "None",
            "prev_states": "[None]",
        },
    ),
)
