"""AnnotatedTensor: a plain tensor plus its named axes."""

from __future__ import annotations

from typing import Any, NoReturn

import einops
import torch

from .._names.broadcast import with_notes
from .._names.layout import Axes
from .._names.pattern import parse_pattern

__all__ = ["AnnotatedTensor"]


class AnnotatedTensor:
    """A tensor with named dimensions written as an einops expression.

    Example:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        >>> with bh.attach_hooks(lstm) as rec:
        ...     out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
        >>> rec[lstm].out
        AnnotatedTensor[batch=1, token=6, (direction=2 hidden=4)]
        >>> rec[lstm].out.pattern
        'batch token (direction hidden)'
        >>> fwd, bwd = rec[lstm].out.split_directions()
        >>> fwd
        AnnotatedTensor[batch=1, token=6, hidden=4]
    """

    __slots__ = (
        "_axes",
        "_full",
        "_tensor",
        "at",
        "lengths",
        "notes",
        "origin",
        "sequences",
        "sliced",
    )

    def __init__(
        self,
        tensor: torch.Tensor,
        axes: Axes,
        origin: str = "",
        *,
        at: dict[str, int] | None = None,
        notes: tuple[str, ...] = (),
        lengths: tuple[int, ...] | None = None,
        sliced: dict[str, tuple[int, int, int]] | None = None,
        full: dict[str, int] | None = None,
        sequences: tuple[int | None, ...] | None = None,
    ) -> None:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"expected tensor as a torch.Tensor, got {tensor!r}")
        if not isinstance(axes, Axes):
            raise TypeError(f"expected axes as an Axes, got {axes!r}")
        if not isinstance(origin, str):
            raise TypeError(f"expected origin as a str, got {origin!r}")
        if not axes.matches(tensor.shape):
            raise ValueError(
                f"expected {axes.expected()}, got shape {tuple(tensor.shape)}"
                + (f" for {origin}" if origin else "")
            )
        self._tensor = tensor
        self._axes = axes
        self.origin = origin
        self.at: dict[str, int] = dict(at or {})
        """Positions of the dims indexed away, e.g. `{"layer": 1, "direction": 1}`."""
        self.notes = with_notes(notes, axes.dims)
        """Caveats, e.g. `("backward direction only",)`; one for each `broadcast` axis."""
        self.lengths = lengths
        """Valid tokens per batch row of a padded tensor (in its batch order), else None."""
        self.sliced: dict[str, tuple[int, int, int]] = dict(sliced or {})
        """Dims kept in part: positions `range(start, stop, step)`, e.g. `{"token": (2, 5, 1)}`.

        Positions, like those of `.at`, are those of the tensor `origin` names:
        `out[:, 2:][:, 1]` is at token 3. A step below 0 is a reversed order, as in
        `cat([h_n[-1], h_n[-2]], -1)`: `{"direction": (1, -1, -1)}`."""
        self._full = dict(full or {})  # sizes in the original of the dims sliced or taken
        self.sequences = sequences
        """For batch rows reordered or picked (`out[order]`, `index_select` along batch):
        the row of the tensor `origin` names that each batch row holds, e.g. `(1, 0)`
        (None where not known); None when the rows are in that tensor's order.
        `.at["batch"]` of a row taken from it is then the row it holds."""

    def __class_getitem__(cls, item: object) -> NoReturn:
        raise TypeError(
            "AnnotatedTensor is not generic: AnnotatedTensor[...] names no dims. Annotate with "
            "torch.Tensor; at run time bh.annotation_of(tensor) gives a tensor's names, "
            "AnnotatedTensor(tensor, axes) wraps one"
        )

    @property
    def tensor(self) -> torch.Tensor:
        """The plain `torch.Tensor`."""
        return self._tensor

    @property
    def pattern(self) -> str:
        """The einops expression, e.g. `batch token (direction hidden)`."""
        return self._axes.pattern

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names with fused axes unpacked, e.g. `("batch", "token", "direction", "hidden")`."""
        return self._axes.dims

    @property
    def sizes(self) -> dict[str, int]:
        """The size of every named dimension."""
        return self._axes.size_of

    @property
    def shape(self) -> torch.Size:
        """The tensor's shape, e.g. `torch.Size([1, 6, 8])` for `(direction=2 hidden=4)`."""
        return self._tensor.shape

    @property
    def axes(self) -> Axes:
        """The named axes: einops groups plus the size of every name."""
        return self._axes

    def rearrange(self, target: str) -> AnnotatedTensor:
        """The tensor rearranged to `target`, e.g. `"direction layer batch hidden"`.

        A view of the same storage whenever einops can give one. Fused axes may
        be split or joined freely: the sizes are known. Every dimension must appear
        once, except those of size 1 (such as `direction` of a unidirectional
        layer), which may be left out.

        Example:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 5, 3))
            >>> rec[gru].h_n.rearrange("layer direction batch hidden").shape
            torch.Size([2, 2, 5, 4])
        """
        what = f"cannot rearrange{f' {self.origin}' if self.origin else ''} "
        what += f"({self._axes.described()}) to {target!r}"
        try:
            groups = parse_pattern(target)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
        known = self.sizes
        names = [name for group in groups for name in group]
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"{what}: unknown dimension {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(known)}"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"{what}: {', '.join(map(repr, repeated))} appears more than once")
        # A dimension of size 1 (direction of a unidirectional layer, say) may be left out
        missing = [name for name in known if name not in names]
        kept = [name for name in missing if known[name] != 1]
        if kept:
            listed = ", ".join(f"{name!r} (size {known[name]})" for name in kept)
            raise ValueError(
                f"{what}: missing {listed}; rearrange keeps every dimension "
                "(only those of size 1 may be left out)"
            )
        try:
            result = einops.rearrange(
                self._tensor, f"{self.pattern} -> {' '.join(missing)} {target}", **known
            )
        except einops.EinopsError as exc:  # a safety net: the cases known are checked above
            reason = str(exc).strip().splitlines()[-1].strip()
            raise ValueError(f"{what}: {reason}") from None
        if missing:
            result = result[(0,) * len(missing)]
        axes = Axes(groups, tuple((name, known[name]) for name in names))
        return AnnotatedTensor(
            result,
            axes,
            self.origin,
            at=self.at,
            notes=self.notes,
            lengths=self.lengths,
            sliced=self.sliced,
            full=self._full,
            sequences=self.sequences if "batch" in names else None,
        )

    def split_directions(self) -> tuple[AnnotatedTensor, ...]:
        """`(forward, backward)` views; a 1-tuple for a unidirectional layer.

        Example:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True)
            >>> with bh.attach_hooks(lstm) as rec:
            ...     out, (h_n, c_n) = lstm(torch.randn(2, 6, 3))
            >>> fwd, bwd = rec[lstm].out.split_directions()
            >>> torch.equal(bwd.tensor, out[..., 4:])
            True
        """
        if "direction" not in self.sizes:
            raise ValueError(
                f"cannot split directions of {self.origin or 'this tensor'}: expected a "
                f"'direction' dimension, got {self.pattern!r}. Was it already split?"
            )
        rest = self._axes.without("direction")
        stacked = einops.rearrange(
            self._tensor, f"{self.pattern} -> direction {rest.pattern}", **self.sizes
        )
        names = ("forward", "backward")
        return tuple(
            AnnotatedTensor(
                stacked[i],
                rest,
                f"{self.origin}.{names[i]}" if self.origin else "",
                at=self.at,
                notes=self.notes,
                lengths=self.lengths,
                sliced=self.sliced,
                full=self._full,
                sequences=self.sequences,
            )
            for i in range(stacked.shape[0])
        )

    def __repr__(self) -> str:
        size = self.sizes
        parts = []
        for group in self._axes.groups:
            inner = " ".join(f"{name}={size[name]}" for name in group)
            parts.append(inner if len(group) == 1 else f"({inner})")
        return f"AnnotatedTensor[{', '.join(parts)}]"

    def _repr_html_(self) -> str:
        from .._display.html import annotated_html

        return annotated_html(self)

    def __getitem__(self, index: Any) -> Any:
        """Index the tensor: a view comes back as an AnnotatedTensor with derived names.

        Dims indexed away are kept in `.at`. An index that copies (a tensor or list
        index) gives back the plain tensor: its names are not known.

        Example:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(lstm) as rec:
            ...     out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
            >>> last = rec[lstm].h_n[-1]
            >>> last, last.at
            (AnnotatedTensor[batch=5, hidden=4], {'layer': 1, 'direction': 1})
        """
        from .lookup import view_of

        result = self._tensor[index]
        return view_of(self, result) or result

    def isel(self, **positions: int | str) -> AnnotatedTensor:
        """Select by name: `isel(layer=-1, direction="backward")`; each dim goes into `.at`.

        Positions are ints (negative counts from the end); `direction` also takes
        `"forward"` and `"backward"`. A fused axis is split for the selection and the
        rest of it kept fused (a copy only where torch cannot give a view).

        Example:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 5, 3))
            >>> backward = rec[gru].h_n.isel(layer=-1, direction="backward")
            >>> torch.equal(backward.tensor, h_n[3]), backward.at
            (True, {'layer': 1, 'direction': 1})
        """
        from .select import select

        return select(self, positions)

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        """torch functions take an AnnotatedTensor as its plain `.tensor`."""
        from .lookup import unwrapped

        return func(*unwrapped(args), **unwrapped(kwargs or {}))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"'AnnotatedTensor' object has no attribute {name!r}; "
            f"the plain tensor is .tensor (e.g. .tensor.{name})"
        )
