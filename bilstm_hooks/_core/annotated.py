"""AnnotatedTensor: a plain tensor plus its named axes."""

from __future__ import annotations

from typing import Any, NoReturn

import torch

from .._base.arguments import expect_type
from .._names.broadcast import with_notes
from .._names.geometry import Geometry, geometry_of
from .._names.layout import DIRECTIONS, Axes
from .._names.named import Named
from .._names.notes import kept_lengths
from .compose import derived, view_names
from .providers import provider
from .reshape import directions, rearranged, selected

__all__ = ["AnnotatedTensor", "derived_view", "named_from", "unwrapped", "view_of", "with_names"]


class AnnotatedTensor:
    """A tensor with named dimensions written as an einops expression.

    Examples:
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
        "_axes", "_full", "_lengths", "_tensor", "at", "notes", "origin", "sequences", "sliced",
    )  # fmt: skip

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
        expect_type("tensor", tensor, torch.Tensor, "a torch.Tensor")
        expect_type("axes", axes, Axes, "an Axes")
        expect_type("origin", origin, str)
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
        self._lengths = lengths  # the sequences' lengths, in the positions `sliced` uses
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
    def lengths(self) -> tuple[int, ...] | None:
        """Valid tokens per batch row of a padded tensor (in its batch order), counted along
        its own `token` axis: `out[:, ::2]` keeps `len(range(0, n, 2))` of a length n."""
        return kept_lengths(self._lengths, self.sliced.get("token"))

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

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 5, 3))
            >>> rec[gru].h_n.rearrange("layer direction batch hidden").shape
            torch.Size([2, 2, 5, 4])
        """
        what = f"cannot rearrange {self.origin} " if self.origin else "cannot rearrange "
        what += f"({self._axes.described()}) to {target!r}"
        result, axes = rearranged(self._tensor, self._axes, target, what)
        kept = self.sequences if "batch" in axes.size_of else None
        return with_names(result, named_from(self, axes, sequences=kept))

    def split_directions(self) -> tuple[AnnotatedTensor, ...]:
        """`(forward, backward)` views; a 1-tuple for a unidirectional layer.

        Examples:
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
        stacked, rest = directions(self._tensor, self._axes)
        origins = (f"{self.origin}.{name}" if self.origin else "" for name in DIRECTIONS)
        return tuple(
            with_names(part, named_from(self, rest, origin=origin))
            for part, origin in zip(stacked, origins, strict=False)
        )

    def __repr__(self) -> str:
        head = f"AnnotatedTensor[{self._axes.grouped(joined=', ')}]"
        where = provider("annotated tensor where")(self) if self.at or self.notes else ""
        return f"{head} {where}" if where else head  # a view: where it was taken, notes

    def _repr_html_(self) -> str:
        return str(provider("annotated tensor html")(self))

    def __getitem__(self, index: Any) -> Any:
        """Index the tensor: a view comes back as an AnnotatedTensor with derived names.

        Dims indexed away are kept in `.at`. An index that copies (a tensor or list
        index) gives back the plain tensor: its names are not known.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(lstm) as rec:
            ...     out, (h_n, c_n) = lstm(torch.randn(6, 5, 3))
            >>> last = rec[lstm].h_n[-1]
            >>> last, last.at  # doctest: +NORMALIZE_WHITESPACE
            (AnnotatedTensor[batch=5, hidden=4] <LSTM>.h_n: layer 1, backward · backward
             direction only, {'layer': 1, 'direction': 1})
        """
        result = self._tensor[index]
        return view_of(self, result) or result

    def isel(self, **positions: int | str) -> AnnotatedTensor:
        """Select by name: `isel(layer=-1, direction="backward")`; each dim goes into `.at`.

        Positions are ints (negative counts from the end); `direction` also takes
        `"forward"` and `"backward"`. A fused axis is split for the selection and the
        rest of it kept fused (a copy only where torch cannot give a view).

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 5, 3))
            >>> backward = rec[gru].h_n.isel(layer=-1, direction="backward")
            >>> torch.equal(backward.tensor, h_n[3]), backward.at
            (True, {'layer': 1, 'direction': 1})
        """
        tensor, axes, at = selected(self._tensor, self._axes, positions)
        return with_names(tensor, view_names(named_from(self), axes, at, {}))

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        """torch functions take an AnnotatedTensor as its plain `.tensor`."""
        return func(*unwrapped(args), **unwrapped(kwargs or {}))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"'AnnotatedTensor' object has no attribute {name!r}; "
            f"the plain tensor is .tensor (e.g. .tensor.{name})"
        )


# -- between an AnnotatedTensor and the registry's names -------------------------------------
def with_names(tensor: torch.Tensor, named: Named) -> AnnotatedTensor:
    """`tensor` with the names the registry keeps (`named`)."""
    return AnnotatedTensor(
        tensor,
        named.axes,
        named.origin,
        at=dict(named.at),
        notes=named.notes,
        lengths=named.lengths,
        sliced={name: (start, stop, step) for name, start, stop, step in named.sliced},
        full=dict(named.full),
        sequences=named.sequences,
    )


def named_from(annotated: AnnotatedTensor, axes: Axes | None = None, **changes: Any) -> Named:
    """What the registry keeps of `annotated` (with `changes`): for its copies and views."""
    named = Named(
        annotated.axes if axes is None else axes,
        annotated.origin,
        tuple(annotated.at.items()),
        annotated.notes,
        annotated._lengths,
        tuple((name, *where) for name, where in annotated.sliced.items()),
        tuple(annotated._full.items()),
        annotated.sequences,
    )
    return named._replace(**changes) if changes else named


def view_of(source: AnnotatedTensor, result: object) -> AnnotatedTensor | None:
    """`result`, a view of `source.tensor`, with derived names; None if not a view."""
    tensor = source.tensor
    root = tensor if tensor._base is None else tensor._base
    if not isinstance(result, torch.Tensor):
        return None
    if result._base is not root and not (  # views of inference tensors keep no _base
        result.is_inference()
        and result.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    ):
        return None
    return derived_view(result, named_from(source), geometry_of(tensor))


def derived_view(tensor: torch.Tensor, named: Named, base: Geometry) -> AnnotatedTensor | None:
    """`tensor`, a view of what `named` describes (of geometry `base`), named; or None."""
    found = derived(named.axes, base, geometry_of(tensor))
    if found is None:
        return None
    return with_names(tensor, view_names(named, found.axes, found.at, found.sliced))


def unwrapped(value: Any) -> Any:
    """`value` with every AnnotatedTensor in it (lists, tuples, dicts) as its plain tensor."""
    if isinstance(value, AnnotatedTensor):
        return value.tensor
    if isinstance(value, list | tuple):
        items = [unwrapped(v) for v in value]
        return type(value)(items) if type(value) in (list, tuple) else items
    if isinstance(value, dict):
        return {k: unwrapped(v) for k, v in value.items()}
    return value
