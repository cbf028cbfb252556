"""A second set of small public models that use nn.LSTM, nn.GRU or nn.RNN, with expected names.

Like benchmarks/models/, each module here is written for this benchmark after reading a
public model (named with its address and the commit read in the module's docstring), not
copied from it; its forwards keep the original's locals, reshapes, `cat`s and indexing,
with tiny sizes, random weights and nothing downloaded. Each module holds:

- `make()`: `(model, example_inputs)`, so that `model(*example_inputs)` runs a forward;
- `SHAPES`: what that forward returns: a tensor by its shape, a tuple or list by those of
  its items, anything else by its type's name;
- `STOPS`: `WildStop`s, where a debugger stops (the line, which it has not run yet) and,
  for every local there that derives from a recurrent layer's outputs, the name a
  perfect tool would show. These were written from reading the code, before anything of
  bilstm_hooks ran on it: they are the target, not a record of what the tool does.

What counts as derived is benchmarks/models/'s rule: a local computed from what a
recurrent layer returned (`out`, `h_n`, `c_n`, a PackedSequence) that keeps at least one
of their axes, a Linear head's output over those axes included, and a tuple or list of
such tensors. A layer's input counts when it is itself computed from another recurrent
layer's output (a stacked model's layer 1 input). Not counted: inputs and embeddings
before any recurrent layer, lengths, masks, indices, ids picked from scores, 0-d scalars,
tensors that are zeros at the stop (a decoder's first "previous context"), and `_`.

How the expected names are written (einops style, over the library's axis names `batch`,
`token`, `layer`, `direction`, `hidden`, `feature`):

- the axes are those of the layer that made the value, in the order they lie in memory:
  `token batch ...` for a time-major layer, `(layer direction) batch hidden` for `h_n`;
- `feature` is any last axis a non-recurrent step made: a Linear head, a projection, or a
  `cat` of a recurrent axis with something else along the last axis (the note says what
  was joined);
- `1` is a kept axis of size one (`unsqueeze(1)`, a decoder's single step);
- `step` is a decoder's steps, made by a Python loop around one-step layer calls: an axis
  no single layer call returned;
- a repeated name is the same axis twice (pairwise scores: `batch token token`), and an
  axis of a second recurrent layer is prefixed with its module's name when both appear
  (`batch token word_rnn.token`);
- a tuple is written `(a, b)`, a list `[a, b]` or `[a × 3]`, each item a name as above.

`notes` holds, per local, what a tool should say beside the name: which layer or
direction was selected, that padding was zeroed or masked, a known bug on that line.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from benchmarks.models import resolve  # the same lookup: a WildStop has function and line

__all__ = ["MODELS", "WildStop", "load", "resolve"]

MODELS = (
    "ncrfpp_tagger",
    "joeynmt_rnn",
    "espnet_rnnp",
    "tacotron2",
    "lstnet",
    "awd_lstm",
    "han_sgrvinod",
    "supar_biaffine",
    "chatbot_tutorial",
    "infersent",
)
"""Every model, in the order reported: one per family (see README.md)."""


@dataclass(frozen=True)
class WildStop:
    """A breakpoint: in `function` (a qualified name in the module, e.g. `Model.forward`),
    at the one source line that starts with `line` once stripped. The debugger stops there
    before running it. `expected` maps each derived local bound by then to the name a
    perfect tool would show; `notes`, some of them to what it should say beside it;
    `not_counted`, locals one might count, with the reason they are not."""

    function: str
    line: str
    expected: Mapping[str, str] = field(default_factory=dict, hash=False)
    not_counted: Mapping[str, str] = field(default_factory=dict, hash=False)
    notes: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def derived(self) -> tuple[str, ...]:
        """The derived locals, as benchmarks.models.Stop has them."""
        return tuple(self.expected)


def load(name: str) -> ModuleType:
    """The model module `name` (one of MODELS)."""
    return importlib.import_module(f"{__name__}.{name}")
