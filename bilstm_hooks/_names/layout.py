"""The one place where named dimensions are derived.

A recurrent layer's configuration plus the call (batched or not, packed or not)
gives a `Layout`; a `Layout` gives the `Axes` (einops groups and sizes) of each
tensor the call takes or returns. Everything else reads annotations from here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

__all__ = [
    "DIRECTIONS",
    "RECURRENT_TYPES",
    "Axes",
    "Layout",
    "Role",
    "kind_of",
    "label_of",
    "quoted_label_of",
]

RECURRENT_TYPES: tuple[type[nn.Module], ...] = (nn.LSTM, nn.GRU, nn.RNN)
DIRECTIONS = ("forward", "backward")  # the names of `direction` 0 and 1
Role = Literal["input", "out", "h_n", "c_n"]


def kind_of(module: nn.Module) -> str:
    """`"LSTM"`, `"GRU"` or `"RNN"` for a recurrent module (subclasses included)."""
    for cls in RECURRENT_TYPES:
        if isinstance(module, cls):
            return cls.__name__
    raise TypeError(f"expected an nn.LSTM, nn.GRU or nn.RNN, got {type(module).__qualname__}")


def label_of(name: str, module: nn.Module) -> str:
    """A module's name in messages: its qualified name, or `<LSTM>` for a hooked root module."""
    return name or f"<{type(module).__name__}>"


def quoted_label_of(name: str, module: nn.Module) -> str:
    """`'encoder'` (quoted, as a key of the recorder), or `<LSTM>` for a hooked root module."""
    return repr(name) if name else label_of(name, module)


@dataclass(frozen=True, slots=True)
class Axes:
    """Named axes of one tensor: einops groups plus the size of every name.

    `groups` holds one tuple of names per tensor axis; a tuple of two names is a
    fused axis such as `(direction hidden)`.
    """

    groups: tuple[tuple[str, ...], ...]
    sizes: tuple[tuple[str, int], ...]

    @property
    def pattern(self) -> str:
        """The einops expression, e.g. `batch token (direction hidden)`."""
        return " ".join(g[0] if len(g) == 1 else f"({' '.join(g)})" for g in self.groups)

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names with fused axes unpacked."""
        return tuple(name for group in self.groups for name in group)

    @property
    def size_of(self) -> dict[str, int]:
        return dict(self.sizes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor shape these axes describe."""
        return _shape_of(self)

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]], sizes: Mapping[str, int]) -> Axes:
        """The axes `groups`, each name's size read from `sizes`."""
        kept = tuple(tuple(group) for group in groups)
        return cls(kept, tuple((name, sizes[name]) for group in kept for name in group))

    def grouped(
        self, name_text: Callable[[str, int], str] = "{}={}".format, *, joined: str = " "
    ) -> str:
        """The groups, each name written by `name_text(name, size)`, a fused group in
        parentheses: `batch=4 token=12 (direction=2 hidden=64)`."""
        size = self.size_of
        parts = []
        for group in self.groups:
            inner = " ".join(name_text(name, size[name]) for name in group)
            parts.append(inner if len(group) == 1 else f"({inner})")
        return joined.join(parts)

    def described(self) -> str:
        """`batch=4 token=12 (direction=2 hidden=64)`: names with sizes."""
        return self.grouped()

    def expected(self) -> str:
        """`batch token (direction hidden) = (4, 12, (2 64))`, for error messages."""
        return f"{self.pattern} = ({self.grouped(lambda _, size: str(size), joined=', ')})"

    def without(self, name: str) -> Axes:
        """These axes with `name` taken out (a group left with one name unfuses; a new
        axis, `()`, stays)."""
        groups = tuple(
            kept
            for g in self.groups
            for kept in (tuple(n for n in g if n != name),)
            if kept or not g
        )
        return Axes(groups, tuple((n, s) for n, s in self.sizes if n != name))

    def matches(self, shape: tuple[int, ...] | torch.Size) -> bool:
        return tuple(shape) == self.shape


@functools.lru_cache(maxsize=4096)
def _shape_of(axes: Axes) -> tuple[int, ...]:
    size = axes.size_of
    out = []
    for group in axes.groups:
        n = 1
        for name in group:
            n *= size[name]
        out.append(n)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Layout:
    """Configuration of a recurrent module plus the shape of one call."""

    kind: str
    layers: int
    directions: int
    hidden: int  # hidden_size: the size of c_n's rows
    h_out: int  # proj_size when > 0, else hidden_size: out's and h_n's hidden
    features: int
    batch_first: bool
    batch: int | None  # None for an unbatched (2-D) call
    tokens: int
    packed: bool

    @classmethod
    def of(
        cls,
        module: nn.Module,
        input: torch.Tensor | PackedSequence,
        h_n: torch.Tensor | None = None,
    ) -> Layout:
        """The layout of `module` called on `input` (a tensor or PackedSequence).

        `h_n`, the state the call returned, when known: the batch of a packed call
        is then read from its shape instead of from `batch_sizes`' first element.
        """
        if isinstance(input, PackedSequence):
            batch_sizes = input.batch_sizes
            batch: int | None
            if h_n is not None and h_n.dim() == 3:
                batch = h_n.shape[1]
            else:
                batch = int(batch_sizes[0]) if batch_sizes.numel() else 0
            tokens = batch_sizes.shape[0]
            packed = True
        elif isinstance(input, torch.Tensor) and input.dim() in (2, 3):
            packed = False
            if input.dim() == 2:
                batch, tokens = None, input.shape[0]
            elif module.batch_first:
                batch, tokens = input.shape[0], input.shape[1]
            else:
                tokens, batch = input.shape[0], input.shape[1]
        else:
            got = (
                f"a {input.dim()}-D tensor of shape {tuple(input.shape)}"
                if isinstance(input, torch.Tensor)
                else type(input).__qualname__
            )
            raise ValueError(
                f"expected the input of a {type(module).__name__} to be a 2-D or 3-D "
                f"tensor or a PackedSequence, got {got}"
            )
        return cls.of_module(module, batch=batch, tokens=tokens, packed=packed)

    @classmethod
    def of_module(
        cls, module: nn.Module, *, batch: int | None, tokens: int, packed: bool = False
    ) -> Layout:
        proj = getattr(module, "proj_size", 0) or 0
        hidden: int = module.hidden_size  # type: ignore[assignment]
        return cls(
            kind=kind_of(module),
            layers=module.num_layers,  # type: ignore[arg-type]
            directions=2 if module.bidirectional else 1,
            hidden=hidden,
            h_out=proj if proj > 0 else hidden,
            features=module.input_size,  # type: ignore[arg-type]
            batch_first=bool(module.batch_first),
            batch=batch,
            tokens=tokens,
            packed=packed,
        )

    @property
    def batched(self) -> bool:
        return self.batch is not None

    def axes(self, role: Role) -> Axes:
        """Named axes of `role` for this call (the padded form for packed calls)."""
        if role in ("input", "out"):
            last: tuple[str, ...] = ("feature",) if role == "input" else ("direction", "hidden")
            if not self.batched:
                lead: tuple[tuple[str, ...], ...] = (("token",),)
            elif self.batch_first:
                lead = (("batch",), ("token",))
            else:
                lead = (("token",), ("batch",))
            groups = (*lead, last)
        elif role in ("h_n", "c_n"):
            batch_axis: tuple[tuple[str, ...], ...] = (("batch",),) if self.batched else ()
            groups = (("layer", "direction"), *batch_axis, ("hidden",))
        else:
            raise ValueError(f"expected one of input, out, h_n, c_n, got {role!r}")
        size = {
            "batch": self.batch or 0,
            "token": self.tokens,
            "feature": self.features,
            "direction": self.directions,
            "layer": self.layers,
            "hidden": self.hidden if role == "c_n" else self.h_out,
        }
        return Axes.of(groups, size)

    def describe_module(self) -> str:
        """`LSTM, 2 layers, bidirectional, batch_first=True`, plus `proj_size=`, `packed` or
        `unbatched` where they apply: the layer and the call, for messages and headers."""
        bits = [
            self.kind,
            f"{self.layers} layer{'s' if self.layers > 1 else ''}",
            "bidirectional" if self.directions == 2 else "unidirectional",
            f"batch_first={self.batch_first}",
        ]
        if self.h_out != self.hidden:
            bits.append(f"proj_size={self.h_out}")
        if self.packed:
            bits.append("packed")
        elif not self.batched:
            bits.append("unbatched")
        return ", ".join(bits)
