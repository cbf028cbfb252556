"""Sizes the helpers are told: explicit ones checked, and checked against the module's.

A size is an int in its range, never a bool (`directions=True` is not 1); an explicit
size that disagrees with `module=` is refused, naming both.
"""

from __future__ import annotations

import operator

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._names.layout import kind_of

__all__ = ["as_tensor", "module_sizes", "resolve", "shape_of", "value_text"]

_COUNT_HINTS = {
    "directions": " (2 for a bidirectional layer, 1 otherwise)",
    "layers": " (the layer's num_layers)",
    "hidden": " (the layer's hidden_size, or proj_size when set)",
}


def shape_of(tensor: torch.Tensor) -> tuple[int, ...]:
    """A tensor's shape as a plain tuple, for messages: `(5, 2, 8)`."""
    return tuple(tensor.shape)


def value_text(value: object) -> str:
    """A short description of an argument for messages: `True (a bool)`, `'2' (a str)`."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    try:
        text = repr(value)
    except Exception:  # a garbage object's repr may fail: its type still says enough
        text = "?"
    if len(text) > 40:
        text = text[:37] + "..."
    kind = type(value).__qualname__
    return f"{text} ({'an' if kind[:1] in 'aeiouAEIOU' else 'a'} {kind})"


def module_sizes(what: str, module: object) -> dict[str, int]:
    """The sizes of a recurrent `module` (none for None); TypeError for anything else."""
    if module is None:
        return {}
    if not isinstance(module, nn.Module):
        kind = None
    else:
        try:
            kind = kind_of(module)
        except TypeError:
            kind = None
    if kind is None:
        raise TypeError(
            f"{what}: expected module= to be an nn.LSTM, nn.GRU or nn.RNN, got "
            + (type(module).__qualname__ if isinstance(module, nn.Module) else value_text(module))
            + "; pass the recurrent layer itself"
        )
    assert isinstance(module, nn.RNNBase)
    proj = module.proj_size if isinstance(module, nn.LSTM) else 0
    return {
        "directions": 2 if module.bidirectional else 1,
        "layers": module.num_layers,
        "hidden": proj if proj > 0 else module.hidden_size,
        "cell": module.hidden_size,  # the last axis of c_n
    }


def _count(what: str, name: str, value: object) -> int:
    """An explicit size: an int (never a bool) in its range."""
    if isinstance(value, (bool, torch.Tensor)) or not hasattr(type(value), "__index__"):
        raise TypeError(
            f"{what}: expected an int for {name}{_COUNT_HINTS[name]}, got {value_text(value)}"
        )
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:  # e.g. numpy.bool_, which refuses __index__
        raise TypeError(
            f"{what}: expected an int for {name}{_COUNT_HINTS[name]}, got {value_text(value)}"
        ) from None
    if name == "directions" and count not in (1, 2):
        raise ValueError(f"{what}: expected directions to be 1 or 2, got {count}")
    if count < 1:
        raise ValueError(f"{what}: expected {name} to be a positive int, got {count}")
    return count


def resolve(
    what: str, module: object, known: dict[str, int], *, optional: str = "", **given: object
) -> dict[str, int | None]:
    """The sizes a helper needs: explicit ones checked, and checked against `module`'s."""
    resolved: dict[str, int | None] = {}
    for name, value in given.items():
        if value is None:
            if name not in known and name != optional:
                raise TypeError(
                    f"{what} needs to know {name}: expected module=<the recurrent layer> or "
                    f"{name}=..., got neither"
                )
            resolved[name] = known.get(name)
            continue
        count = _count(what, name, value)
        if name in known and count != known[name]:
            raise ValueError(
                f"{what}: {name}={count} disagrees with the module: expected {name}="
                f"{known[name]} for {module!r}; leave {name} out to read it from the module"
            )
        resolved[name] = count
    return resolved


def as_tensor(what: str, value: object, expected: str) -> torch.Tensor:
    """`value` (or a PackedSequence's `.data`) as a dense tensor; TypeError otherwise."""
    data = value.data if isinstance(value, PackedSequence) else value
    if not isinstance(data, torch.Tensor):
        hint = ""
        if isinstance(getattr(value, "tensor", None), torch.Tensor):
            hint = "; pass its .tensor"
        raise TypeError(f"{what} expected {expected}, got {type(value).__qualname__}{hint}")
    if data.layout != torch.strided:
        raise TypeError(
            f"{what} expected a dense (strided) tensor, got a {data.layout} tensor; "
            "pass .to_dense()"
        )
    return data
