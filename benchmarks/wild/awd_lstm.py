"""Weight-dropped language model: AWD-LSTM, three 1-layer LSTMs each wrapped in WeightDrop.

After salesforce/awd-lstm-lm (read at 1d466ec), model.py (`RNNModel`), weight_drop.py
(`WeightDrop`), locked_dropout.py (`LockedDropout`) and embed_regularize.py
(`embedded_dropout`):
https://github.com/salesforce/awd-lstm-lm/blob/master/model.py
https://github.com/salesforce/awd-lstm-lm/blob/master/weight_drop.py
As there: the LSTMs are time-major and separate (sizes ninp→nhid→nhid→ninp, the last
one ninp wide for tied weights), each run with `hidden[l]` from a list of per-layer
`(h, c)`; `WeightDrop` removes `weight_hh_l0`, keeps it as `weight_hh_l0_raw`, sets a
dropped copy before every call and then calls `self.module.forward(*args)` *directly*,
which bypasses the LSTM's `__call__` and so its forward hooks; locked (variational)
dropout shares one mask over all time steps. The forward returns
`output.view(output.size(0)*output.size(1), output.size(2))` and no scores: main.py
trains through its own criterion, `SplitCrossEntropyLoss(model.decoder.weight,
model.decoder.bias, output, targets)`, and with `return_h=True` uses `raw_outputs` and
`outputs` for its activation regularizers (AR/TAR). `make()` passes `return_h=True`, as
main.py's `train()` does. The QRNN and GRU branches and `print(self.rnns)` are left out.

KNOWN BUG (salesforce/awd-lstm-lm#79, #114, #117): in eval mode `F.dropout(raw_w,
training=False)` returns the `Parameter` `weight_hh_l0_raw` itself, `setattr` registers it
as a parameter named `weight_hh_l0`, and the next training-mode call fails with
"TypeError: cannot assign 'torch.FloatTensor' as parameter 'weight_hh_l0'". Not run
here: the forward runs once, in training mode.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import Parameter

from . import WildStop

__all__ = ["SHAPES", "STOPS", "LockedDropout", "RNNModel", "WeightDrop", "make"]

NTOKEN, NINP, NHID, NLAYERS = 10, 4, 5, 3
SEQ, BATCH = 5, 3  # batchify's (seq, batch) layout: time-major


def embedded_dropout(embed, words, dropout=0.1, scale=None):
    if dropout:
        mask = embed.weight.data.new().resize_((embed.weight.size(0), 1)).bernoulli_(1 - dropout)
        mask = mask.expand_as(embed.weight) / (1 - dropout)
        masked_embed_weight = mask * embed.weight
    else:
        masked_embed_weight = embed.weight
    if scale:
        masked_embed_weight = scale.expand_as(masked_embed_weight) * masked_embed_weight
    padding_idx = embed.padding_idx
    if padding_idx is None:
        padding_idx = -1
    return torch.nn.functional.embedding(
        words, masked_embed_weight, padding_idx, embed.max_norm, embed.norm_type,
        embed.scale_grad_by_freq, embed.sparse,
    )  # fmt: skip


class LockedDropout(nn.Module):
    def forward(self, x, dropout=0.5):
        if not self.training or not dropout:
            return x
        m = x.data.new(1, x.size(1), x.size(2)).bernoulli_(1 - dropout)
        mask = m.requires_grad_(False) / (1 - dropout)
        mask = mask.expand_as(x)
        return mask * x


class WeightDrop(torch.nn.Module):
    def __init__(self, module, weights, dropout=0, variational=False):
        super().__init__()
        self.module = module
        self.weights = weights
        self.dropout = dropout
        self.variational = variational
        self._setup()

    def widget_demagnetizer_y2k_edition(*args, **kwargs):
        # flatten_parameters replaced with a function that does nothing
        return

    def _setup(self):
        if issubclass(type(self.module), torch.nn.RNNBase):
            self.module.flatten_parameters = self.widget_demagnetizer_y2k_edition

        for name_w in self.weights:
            w = getattr(self.module, name_w)
            del self.module._parameters[name_w]
            self.module.register_parameter(name_w + "_raw", Parameter(w.data))

    def _setweights(self):
        for name_w in self.weights:
            raw_w = getattr(self.module, name_w + "_raw")
            w = None
            if self.variational:
                mask = torch.ones(raw_w.size(0), 1)
                mask = torch.nn.functional.dropout(mask, p=self.dropout, training=True)
                w = mask.expand_as(raw_w) * raw_w
            else:
                # KNOWN BUG: in eval mode this is raw_w itself, a Parameter
                w = torch.nn.functional.dropout(raw_w, p=self.dropout, training=self.training)
            setattr(self.module, name_w, w)

    def forward(self, *args):
        self._setweights()
        return self.module.forward(*args)  # not self.module(*args): no hooks run


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(
        self,
        rnn_type="LSTM",
        ntoken=NTOKEN,
        ninp=NINP,
        nhid=NHID,
        nlayers=NLAYERS,
        dropout=0.4,
        dropouth=0.25,
        dropouti=0.4,
        dropoute=0.1,
        wdrop=0.5,
        tie_weights=True,
    ):
        super().__init__()
        self.lockdrop = LockedDropout()
        self.encoder = nn.Embedding(ntoken, ninp)
        assert rnn_type == "LSTM", "only the LSTM branch here"
        self.rnns = [
            torch.nn.LSTM(
                ninp if l == 0 else nhid,
                nhid if l != nlayers - 1 else (ninp if tie_weights else nhid),
                1,
                dropout=0,
            )
            for l in range(nlayers)  # noqa: E741  (the original's name)
        ]
        if wdrop:
            self.rnns = [WeightDrop(rnn, ["weight_hh_l0"], dropout=wdrop) for rnn in self.rnns]
        self.rnns = torch.nn.ModuleList(self.rnns)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.init_weights()

        self.rnn_type = rnn_type
        self.ninp = ninp
        self.nhid = nhid
        self.nlayers = nlayers
        self.dropout = dropout
        self.dropouti = dropouti
        self.dropouth = dropouth
        self.dropoute = dropoute
        self.tie_weights = tie_weights

    def init_weights(self):
        initrange = 0.1
        self.encoder.weight.data.uniform_(-initrange, initrange)
        self.decoder.bias.data.fill_(0)
        self.decoder.weight.data.uniform_(-initrange, initrange)

    def forward(self, input, hidden, return_h=False):
        emb = embedded_dropout(self.encoder, input, dropout=self.dropoute if self.training else 0)
        emb = self.lockdrop(emb, self.dropouti)

        raw_output = emb
        new_hidden = []
        raw_outputs = []
        outputs = []
        for l, rnn in enumerate(self.rnns):  # noqa: E741  (the original's name)
            current_input = raw_output  # noqa: F841  (held at a breakpoint)
            raw_output, new_h = rnn(raw_output, hidden[l])
            new_hidden.append(new_h)
            raw_outputs.append(raw_output)
            if l != self.nlayers - 1:
                raw_output = self.lockdrop(raw_output, self.dropouth)
                outputs.append(raw_output)
        hidden = new_hidden

        output = self.lockdrop(raw_output, self.dropout)
        outputs.append(output)

        result = output.view(output.size(0) * output.size(1), output.size(2))
        if return_h:
            return result, hidden, raw_outputs, outputs
        return result, hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters()).data
        size = [self.nhid if l != self.nlayers - 1 else self.ninp for l in range(self.nlayers)]  # noqa: E741
        return [(weight.new(1, bsz, n).zero_(), weight.new(1, bsz, n).zero_()) for n in size]


def make() -> tuple[RNNModel, tuple[object, ...]]:
    """A (seq=5, batch=3) batch of ids, zero initial states, `return_h=True`; training mode."""
    model = RNNModel()
    data = torch.randint(0, NTOKEN, (SEQ, BATCH))
    return model, (data, model.init_hidden(BATCH), True)


_STATE = ((1, BATCH, NHID), (1, BATCH, NHID))
_LAST_STATE = ((1, BATCH, NINP), (1, BATCH, NINP))
_OUTS = [(SEQ, BATCH, NHID), (SEQ, BATCH, NHID), (SEQ, BATCH, NINP)]
SHAPES = ((SEQ * BATCH, NINP), [_STATE, _STATE, _LAST_STATE], _OUTS, _OUTS)
"""result ((seq·batch), ninp), the new per-layer (h, c) list, raw_outputs and (dropped)
outputs, one per layer."""

_OUT = "token batch (direction hidden)"
_H_C = "((layer direction) batch hidden, (layer direction) batch hidden)"
_HOOKLESS = "WeightDrop calls self.module.forward(*args): the LSTM's hooks do not run"
STOPS = (
    WildStop(  # layer 0, right after its call
        "RNNModel.forward",
        "raw_outputs.append(raw_output)",
        expected={"raw_output": _OUT, "new_h": _H_C, "new_hidden": f"[{_H_C}]"},
        notes={
            "raw_output": "rnns[0]'s output (no dropout yet); " + _HOOKLESS,
            "new_h": "rnns[0]'s (h_n, c_n)",
            "new_hidden": "(h_n, c_n) per layer so far",
        },
        not_counted={
            "emb": "the embedding (embedded and locked dropout), layer 0's input",
            "current_input": "emb here: layer 0's input",
            "hidden": "the initial states, an input",
            "raw_outputs": "empty yet",
            "input": "the token ids",
            "return_h": "a bool",
            "outputs": "empty yet",
            "l": "an int",
            "rnn": "the module",
        },
    ),
    WildStop(
        "RNNModel.forward",
        "if return_h:",
        expected={
            "current_input": _OUT,
            "raw_output": _OUT,
            "new_h": _H_C,
            "new_hidden": f"[{_H_C} × 3]",
            "hidden": f"[{_H_C} × 3]",
            "raw_outputs": f"[{_OUT} × 3]",
            "outputs": f"[{_OUT} × 3]",
            "output": _OUT,
            "result": "(token batch) (direction hidden)",
        },
        notes={
            "current_input": "rnns[1]'s output after locked dropout: rnns[2]'s input",
            "raw_output": "rnns[2]'s output (hidden = ninp, for the tied decoder)",
            "new_h": "rnns[2]'s (h_n, c_n)",
            "new_hidden": "(h_n, c_n) per layer, hidden 5, 5, 4",
            "hidden": "rebound to new_hidden",
            "raw_outputs": "each layer's output before dropout, hidden 5, 5, 4",
            "outputs": "each layer's output after locked dropout, hidden 5, 5, 4",
            "output": "rnns[2]'s output after locked dropout (one mask for all tokens)",
            "result": "token and batch flattened, token-major, for the split-softmax "
            "criterion that applies the tied decoder",
        },
        not_counted={
            "emb": "the embedding, layer 0's input",
            "input": "the token ids",
            "l": "an int",
            "rnn": "the module",
            "return_h": "a bool",
        },
    ),
)
