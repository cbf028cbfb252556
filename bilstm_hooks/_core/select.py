"""`AnnotatedTensor.isel`: named dims taken at one position each, by name.

>>> import torch, bilstm_hooks as bh
>>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
>>> with bh.attach_hooks(gru) as rec:
...     out, h_n = gru(torch.randn(6, 5, 3))
>>> select(rec[gru].h_n, {"layer": 1, "direction": "forward"}).at
{'layer': 1, 'direction': 0}
"""

from __future__ import annotations

from collections.abc import Mapping

from .._names.layout import DIRECTIONS
from .annotated import AnnotatedTensor
from .lookup import annotate_view, named_from

__all__ = ["select"]


def select(annotated: AnnotatedTensor, positions: Mapping[str, int | str]) -> AnnotatedTensor:
    """`annotated.isel(**positions)`: each named dim taken at one position."""
    tensor, axes = annotated.tensor, annotated.axes
    at: dict[str, int] = {}
    for name, given in positions.items():
        size = axes.size_of
        if name not in size:
            raise KeyError(
                f"cannot select {name!r}: expected one of {', '.join(size)} ({axes.described()})"
            )
        index = _position(name, given, size[name])
        g, group = next((g, group) for g, group in enumerate(axes.groups) if name in group)
        if len(group) == 1:
            tensor = tensor.select(g, index)
        else:
            k = group.index(name)
            tensor = tensor.unflatten(g, tuple(size[n] for n in group)).select(g + k, index)  # type: ignore[no-untyped-call]
            if len(group) > 2:
                tensor = tensor.flatten(g, g + len(group) - 2)
        axes = axes.without(name)
        at[name] = index
    return annotate_view(tensor, named_from(annotated), axes, at, {})


def _position(name: str, given: int | str, size: int) -> int:
    if name == "direction" and isinstance(given, str) and given in DIRECTIONS[:size]:
        return DIRECTIONS.index(given)
    if isinstance(given, bool) or not isinstance(given, int):
        names = " or 'forward'/'backward'" if name == "direction" else ""
        raise TypeError(f"expected {name} as an int position{names}, got {given!r}")
    if not -size <= given < size:
        raise IndexError(f"expected {name} in [{-size}, {size - 1}], got {given}")
    return given % size
