"""Which modules of a model `attach_hooks` hooks: recurrent layers and cells.

`nn.LSTM`, `nn.GRU`, `nn.RNN` and `nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell` are found,
with their subclasses. torch's quantized recurrent modules are not subclasses of them
and are refused by name, with why (an error where nothing else is found, else a warning).

Examples:
    >>> import torch
    >>> model = torch.nn.ModuleDict({"rnn": torch.nn.GRU(3, 4), "cell": torch.nn.LSTMCell(3, 4)})
    >>> [(name, kind) for name, _, kind in recurrent_modules(model)]
    [('rnn', 'layer'), ('cell', 'cell')]
"""

from __future__ import annotations

import warnings
from typing import Literal

from torch import nn

from .._names.cells import CELL_TYPES
from .._names.layout import RECURRENT_TYPES

__all__ = ["recurrent_modules"]

Kind = Literal["layer", "cell"]
# torch's quantized recurrent modules: looked for by module path, so that none is imported
_WHY = (
    "Their weights are not nn.LSTM's (packed for a quantized kernel, or split into Linear "
    "gates to be quantized), so no replay or identity could read them: hook the float "
    "model before preparing or quantizing it"
)
_QUANTIZED = ("torch.ao.nn.quantized", "torch.ao.nn.quantizable", "torch.nn.quantized")


def recurrent_modules(model: nn.Module) -> list[tuple[str, nn.Module, Kind]]:
    """`(qualified name, module, "layer" or "cell")` for every recurrent module of `model`.

    Raises:
        ValueError: `model` holds none; the message lists what was looked for and names
            any quantized recurrent module found instead.
    """
    found: list[tuple[str, nn.Module, Kind]] = []
    quantized: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, RECURRENT_TYPES):
            found.append((name, module, "layer"))
        elif isinstance(module, CELL_TYPES):
            found.append((name, module, "cell"))
        elif type(module).__module__.startswith(_QUANTIZED) and _recurrent_name(module):
            quantized.append(
                f"{name or '<model>'} ({type(module).__module__}.{type(module).__name__})"
            )
    if not found:
        looked_for = ", ".join(f"nn.{t.__name__}" for t in (*RECURRENT_TYPES, *CELL_TYPES))
        message = (
            f"{type(model).__qualname__} has no recurrent layer: looked for {looked_for} "
            "and their subclasses among its named_modules()"
        )
        if quantized:
            message += (
                f"; found quantized ones, which are not supported: {', '.join(quantized)}. {_WHY}"
            )
        raise ValueError(message)
    if quantized:
        warnings.warn(
            f"not hooked, being quantized: {', '.join(quantized)}. {_WHY}",
            RuntimeWarning,
            stacklevel=3,
        )
    return found


def _recurrent_name(module: nn.Module) -> bool:
    name = type(module).__name__
    return any(kind in name for kind in ("LSTM", "GRU", "RNN"))
