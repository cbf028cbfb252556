"""Small versions of public models that use nn.LSTM, nn.GRU or nn.RNN, for `locals_coverage.py`.

Each module here is written for this benchmark after reading a public model (named with
its address in the module's docstring), not copied from it. Its `forward` keeps the
original's shape: the same intermediate locals (the padded output, dropout's result,
`h_n[-1]`, the `cat` of directions, squeezes and views, a Linear head's output, the
`(h, c)` tuple...), since those are what a user holds at a breakpoint. Sizes are tiny,
weights random, nothing is downloaded. Each module holds:

- `make()`: `(model, example_inputs)`, so that `model(*example_inputs)` runs a forward;
- `SHAPES`: what that forward returns, as the original's would: a tensor by its shape,
  a tuple or list by those of its items, anything else by its type's name;
- `STOPS`: where a debugger stops in it (the line, which it has not run yet) and which
  locals there derive from a recurrent layer's outputs.

What counts as derived, the same rule in every model: a local computed from what a
recurrent layer returned (`out`, `h_n`, `c_n`, a PackedSequence) that keeps at least one
of their axes (layer, direction, batch, token, hidden), a Linear head's output over
those leading axes included, and a tuple or list of such tensors. Not counted: inputs
and embeddings (they come before the layer), lengths, integer ids picked from a head's
scores (new data rather than a layout of the outputs), tensors whose every entry mixes
all tokens and tags (a CRF's recursion), 0-d scalars, and `_`. Where a local could be
argued either way, the stop says why in `not_counted`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol

__all__ = ["MODELS", "Located", "Stop", "load", "resolve"]

MODELS = (
    "word_language_model",
    "sentiment_bilstm",
    "bilstm_crf",
    "seq2seq_attention",
    "speech_batchrnn",
    "birnn_last_step",
)
"""Every model, in the order reported. The first five are the kinds issue 10 measured."""


@dataclass(frozen=True)
class Stop:
    """A breakpoint: in `function` (a qualified name in the module, e.g. `RNNModel.forward`),
    at the one source line that starts with `line` once stripped. The debugger stops
    there before running it, so `derived` are the locals bound by then."""

    function: str
    line: str
    derived: tuple[str, ...]
    not_counted: Mapping[str, str] = field(default_factory=dict, hash=False)


def load(name: str) -> ModuleType:
    """The model module `name` (one of MODELS)."""
    return importlib.import_module(f"{__name__}.{name}")


class Located(Protocol):
    """Where a stop is: a `Stop`, or `benchmarks.wild.WildStop`."""

    @property
    def function(self) -> str: ...

    @property
    def line(self) -> str: ...


def resolve(module: ModuleType, stop: Located) -> tuple[Path, int]:
    """The file and 1-based line number of `stop` in `module`."""
    target: object = module
    for part in stop.function.split("."):
        target = getattr(target, part)
    lines, first = inspect.getsourcelines(target)  # type: ignore[arg-type]
    found = [first + i for i, text in enumerate(lines) if text.strip().startswith(stop.line)]
    if len(found) != 1:
        raise ValueError(
            f"{module.__name__}: {len(found)} lines of {stop.function} start with {stop.line!r}"
        )
    return Path(inspect.getfile(module)).resolve(), found[0]
