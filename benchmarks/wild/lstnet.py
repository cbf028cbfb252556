"""Time-series forecasting: LSTNet, a CNN then a time-major GRU and a "skip" GRU, plus highway.

After laiguokun/LSTNet, models/LSTNet.py (`Model`, read at 001bec3, master):
https://github.com/laiguokun/LSTNet/blob/master/models/LSTNet.py
As there: a Conv2d over the window, `c.permute(2, 0, 1)` into a time-major `nn.GRU`
whose `h_n` alone is kept (`_, r = self.GRU1(r)`, then `torch.squeeze(r, 0)`); the
skip-RNN takes the last `pt * skip` steps, views them as `(batch, hidC, pt, skip)`,
permutes to `(pt, batch, skip, hidC)` and views them as `pt` steps of a batch of
`batch * skip` sequences, so that one GRU runs every `skip`-th step of each series; its
`h_n` is viewed back as `(batch, skip * hidS)` and joined with `r`; a highway Linear
over the last raw values is added. `args`/`data` are plain numbers here, the semicolons
are gone, and `F.sigmoid` is `torch.sigmoid`.

KNOWN BUG (under Python 3; the README asks for Python 2.7): `self.pt = (self.P -
self.Ck)/self.skip` is a float, and `s.view(batch_size, self.hidC, self.pt, self.skip)`
raises a TypeError. The replica takes `int(...)` of it (marked `CHANGED`), as forks do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import WildStop

__all__ = ["SHAPES", "STOPS", "Model", "make"]

BATCH, WINDOW, SERIES = 3, 8, 3


class Model(nn.Module):
    def __init__(
        self,
        window=WINDOW,
        m=SERIES,
        hidRNN=4,
        hidCNN=5,
        hidSkip=2,
        CNN_kernel=2,
        skip=3,
        highway_window=2,
        dropout=0.2,
        output_fun="sigmoid",
    ):
        super().__init__()
        self.P = window
        self.m = m
        self.hidR = hidRNN
        self.hidC = hidCNN
        self.hidS = hidSkip
        self.Ck = CNN_kernel
        self.skip = skip
        self.pt = int((self.P - self.Ck) / self.skip)  # CHANGED: int(); a float on Python 3
        self.hw = highway_window
        self.conv1 = nn.Conv2d(1, self.hidC, kernel_size=(self.Ck, self.m))
        self.GRU1 = nn.GRU(self.hidC, self.hidR)
        self.dropout = nn.Dropout(p=dropout)
        if self.skip > 0:
            self.GRUskip = nn.GRU(self.hidC, self.hidS)
            self.linear1 = nn.Linear(self.hidR + self.skip * self.hidS, self.m)
        else:
            self.linear1 = nn.Linear(self.hidR, self.m)
        if self.hw > 0:
            self.highway = nn.Linear(self.hw, 1)
        self.output = None
        if output_fun == "sigmoid":
            self.output = torch.sigmoid
        if output_fun == "tanh":
            self.output = torch.tanh

    def forward(self, x):
        batch_size = x.size(0)

        # CNN
        c = x.view(-1, 1, self.P, self.m)
        c = F.relu(self.conv1(c))
        c = self.dropout(c)
        c = torch.squeeze(c, 3)

        # RNN
        r = c.permute(2, 0, 1).contiguous()
        _, r = self.GRU1(r)
        r = self.dropout(torch.squeeze(r, 0))

        # skip-rnn
        if self.skip > 0:
            s = c[:, :, int(-self.pt * self.skip) :].contiguous()
            s = s.view(batch_size, self.hidC, self.pt, self.skip)
            s = s.permute(2, 0, 3, 1).contiguous()
            s = s.view(self.pt, batch_size * self.skip, self.hidC)
            _, s = self.GRUskip(s)
            s = s.view(batch_size, self.skip * self.hidS)
            s = self.dropout(s)
            r = torch.cat((r, s), 1)

        res = self.linear1(r)

        # highway
        if self.hw > 0:
            z = x[:, -self.hw :, :]
            z = z.permute(0, 2, 1).contiguous().view(-1, self.hw)
            z = self.highway(z)
            z = z.view(-1, self.m)
            res = res + z

        if self.output:
            res = self.output(res)
        return res


def make() -> tuple[Model, tuple[object, ...]]:
    """Three windows of 8 steps of 3 series; training mode."""
    return Model(), (torch.randn(BATCH, WINDOW, SERIES),)


SHAPES = (BATCH, SERIES)
"""The forecast: (batch, series)."""

_SKIP = "GRUskip's batch axis is (batch skip): each series' every skip-th step is one sequence"
STOPS = (
    WildStop(
        "Model.forward",
        "r = self.dropout(torch.squeeze(r, 0))",
        expected={"r": "(layer direction) batch hidden"},
        notes={"r": "GRU1's h_n (1 layer, 1 direction); its out was discarded (`_`)"},
        not_counted={
            "c": "the convolution features, GRU1's input before the permute",
            "x": "the input window",
            "batch_size": "an int",
        },
    ),
    WildStop(
        "Model.forward",
        "s = s.view(batch_size, self.skip * self.hidS)",
        expected={"r": "batch hidden", "s": "(layer direction) batch hidden"},
        notes={
            "r": "GRU1's h_n with its size-1 (layer direction) axis squeezed; dropout",
            "s": "GRUskip's h_n; " + _SKIP,
        },
        not_counted={
            "c": "the convolution features, the GRUs' input",
            "x": "the input window",
            "batch_size": "an int",
        },
    ),
    WildStop(
        "Model.forward",
        "return res",
        expected={"s": "batch (skip hidden)", "r": "batch feature", "res": "batch feature"},
        notes={
            "s": "GRUskip's h_n regrouped per series: the view splits (batch skip) and "
            "merges skip with hidden (`skip` is a factor of GRUskip's batch, not a "
            "library axis); dropout",
            "r": "GRU1's final state (hidden) then s (skip hidden), joined on the last axis",
            "res": "linear1(r) plus the highway term, then sigmoid: one value per series",
        },
        not_counted={
            "z": "the highway term: a Linear over the raw input window",
            "c": "the convolution features",
            "x": "the input window",
            "batch_size": "an int",
        },
    ),
)
