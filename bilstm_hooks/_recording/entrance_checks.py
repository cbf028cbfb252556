"""The layer's entrance: the names of what goes into a hooked layer, checked before it runs.

A forward pre-hook on each hooked layer reads the names of `input` and of `h_0`/`c_0`,
and warns (`bh.LayoutWarning`, at the user's line, with the fix) where they say the
layer will misread them:

- **directions become layers** (or layers become directions): the rows of a state
  hold an encoder's two directions where this layer reads its layers
  (`encoder_h_n[:decoder.num_layers]` from a bidirectional encoder), or an encoder's
  layers where this layer reads its two directions;
- **a graph from an earlier batch**: a state that is the `h_n`/`c_n` of a recorded
  call made before the layer's weights were last updated (an optimizer step since),
  still holding that call's autograd graph: it was not detached between batches;
- **batch-first into time-major** (or the reverse): an input named
  `batch token feature` into a layer that reads `token batch feature`. Only names a
  tensor was given where it was made count (a layer's `out`, a followed op): not the
  names of a tensor another layer was given as its input, which are that layer's reading.

A tensor without names is never warned about: the correct hand-offs (directions summed
or joined and bridged by a Linear, a decoder laid out as its encoder, a state detached
between batches, a decoder's own state carried over its steps) stay silent. The cheap
look first: a call with no state, whose input is neither keyed in the registry nor the
latest call's `out`, is let through after a few dict lookups.

Examples:
    >>> import warnings, torch, bilstm_hooks as bh
    >>> encoder = torch.nn.GRU(3, 4, bidirectional=True)
    >>> decoder = torch.nn.GRU(3, 4, num_layers=2)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder}))
    >>> x = torch.randn(5, 2, 3)
    >>> out, h_n = encoder(x)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = decoder(x, h_n)
    >>> print(str(caught[0].message).split(": ")[1])
    encoder's directions become decoder's layers. Hand over one row per layer
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from .._base.callers import holder_frame, holder_level
from .._base.errors import LayoutWarning
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.lookup import annotation_of
from .._names.layout import DIRECTIONS
from .layer_notes import argument_names, states_of

__all__ = ["EntranceCheck"]

_TAGS = registry.TAGS
_PENDING = registry.PENDING
_Tensor = torch.Tensor
_no_torch_function = torch._C.DisableTorchFunction
_modes_on = torch._C._is_torch_function_mode_enabled
_ROWS = ("layer", "direction")
_ALL = -1  # a row's layer or direction its names do not tell apart: the same for all rows
Named = Callable[[], "str | None"]  # the user's name of a value, read once it is needed


class EntranceCheck:
    """The forward pre-hook of one hooked layer: its registered `check`.

    `hooks`: the recorder's hooks (`Hook`), whose latest calls a state may come from.
    """

    OURS = True  # a hook of this library's (`_base.hook_dicts.is_ours`)

    def __init__(self, label: str, hooks: Mapping[str, Any]) -> None:
        self.label = label
        self.hooks = hooks

    def source(self, state: torch.Tensor) -> Any:
        """The Record of the latest call of a hooked layer that returned `state` as its
        `h_n` or `c_n` (a view of one too), or None."""
        for hook in self.hooks.values():
            for record in hook.kept_records(last=True):
                if record.returned(state):
                    return record
        return None

    def check(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        # on every call: a few lookups, unless an argument may have names
        if not args:
            return
        if _modes_on():  # a user's own mode sees the model's ops only, not our reads
            with _no_torch_function():
                return self._check(module, args)
        return self._check(module, args)

    def _check(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        input = args[0]
        hx = args[1] if len(args) > 1 else None
        if hx is None and not (type(input) is _Tensor and _keyed_or_latest_out(input)):
            return
        try:
            with _no_torch_function():
                messages = list(self._messages(module, input, hx))
        except Exception:  # a check must never break the forward pass
            return
        for message, value in messages:  # where the value came in: the loop, the seq2seq forward
            warnings.warn(message, LayoutWarning, stacklevel=holder_level(value))

    def _messages(self, module: nn.Module, input: Any, hx: Any) -> Any:
        """`(message, value)` for each problem: `value`, what the warning is placed by.
        The user's frames are read (their names) only once a problem is found: a frame's
        `f_locals`, once read, holds its values until read again (before Python 3.13)."""
        states = states_of(hx)
        if isinstance(input, _Tensor) and input.dim() == 3:
            message = self._order(module, input, functools.partial(_name, input, [input], None))
            if message is not None:
                yield message, input
        for role, state in zip(("h_0", "c_0"), states, strict=False):
            annotated = annotation_of(state)
            if annotated is not None:
                message = self._rows(module, role, annotated)
                if message is not None:
                    yield message, hx
                    break  # h_0 and c_0 come from the same place: once
        for role, state in zip(("h_0", "c_0"), states, strict=False):
            if state.grad_fn is not None and torch.is_grad_enabled():
                message = self._stale_graph(
                    role, state, functools.partial(_name, hx, states, hx, state)
                )
                if message is not None:
                    yield message, hx
                    break

    def _order(self, module: nn.Module, input: torch.Tensor, named: Named) -> str | None:
        """Batch-first into time-major, or the reverse (`named()`: the user's name of it)."""
        annotated = annotation_of(input)
        if annotated is None or annotated.origin.endswith(".input"):  # another layer's reading
            return None
        first, second = annotated.axes.groups[0], annotated.axes.groups[1]
        batch_first = bool(module.batch_first)
        if batch_first and (first, second) == (("token",), ("batch",)):
            held, reads, fix = "token batch", "batch token", "transpose(0, 1)"
        elif not batch_first and (first, second) == (("batch",), ("token",)):
            held, reads, fix = "batch token", "token batch", "transpose(0, 1)"
        else:
            return None
        name = named()
        called = f"`{name}`" if name else "its input"
        return (
            f"{self.label} (batch_first={batch_first}) reads its input as {reads} feature, "
            f"but {called} is {annotated.pattern} ({_from(annotated)}): its axis 0 holds "
            f"{held.split()[0]}, not {reads.split()[0]}. Pass {name or 'the input'}.{fix}, "
            f"or build the layer with batch_first={not batch_first}."
        )

    def _rows(self, module: nn.Module, role: str, annotated: AnnotatedTensor) -> str | None:
        """A state's rows: directions read as layers, or layers read as directions."""
        rows = _row_labels(annotated)
        directions = 2 if module.bidirectional else 1
        layers: int = module.num_layers  # type: ignore[assignment]
        if rows is None or len(rows) != layers * directions:  # torch raises
            return None
        for (r1, a), (r2, b) in itertools.combinations(enumerate(rows), 2):
            same_layer_read = r1 // directions == r2 // directions
            same_direction_read = r1 % directions == r2 % directions
            if not same_layer_read and same_direction_read and _same(a[0], b[0], a[1], b[1]):
                return _directions_as_layers(self.label, role, annotated, rows, directions)
            if same_layer_read and not same_direction_read and _same(a[1], b[1], a[0], b[0]):
                return _layers_as_directions(self.label, role, annotated, rows)
        return None

    def _stale_graph(self, role: str, state: torch.Tensor, named: Named) -> str | None:
        """A state from a call made before an optimizer step, with that call's graph."""
        record = self.source(state)
        if record is None or not record.weights_changed:
            return None
        name = named()
        called = f"`{name}`" if name else f"its {role}"
        return (
            f"{self.label}'s {role} still holds the autograd graph of an earlier batch: "
            f"{called} is {record.label}'s {'h_n' if role == 'h_0' else 'c_n'} from a call "
            "made before its weights were last updated (an optimizer step). The next "
            "backward() runs into that batch's graph and fails ('Trying to backward through "
            "the graph a second time'; after retain_graph=True, a variable 'modified by an "
            "inplace operation'), or every batch's graph stays alive. Detach the state "
            "between batches: "
            "hidden = tuple(h.detach() for h in hidden) (or hidden.detach() for a GRU or RNN)."
        )


def _name(value: Any, tensors: list[torch.Tensor], hx: Any, tensor: Any = None) -> str | None:
    """The user's name of `tensor` (default: `value`) in the frame that passed `value` in."""
    found = argument_names(holder_frame(value), tensors, hx)
    return found.get(id(value if tensor is None else tensor))


def _keyed_or_latest_out(tensor: torch.Tensor) -> bool:
    """Whether `tensor` may have names, looked at cheaply: keyed in the registry (itself or
    its base), or the `out` of the latest call, still pending."""
    entry = _TAGS.get(id(tensor))
    if entry is not None and entry[0]() is tensor:  # not a dead tensor's id, reused
        return True
    base = tensor._base
    if base is not None and id(base) in _TAGS:
        return True
    if _PENDING:
        try:
            out = _PENDING[-1][0]()
        except IndexError:  # another thread's flush emptied it
            return False
        return out is not None and (out is tensor or out is base)
    return False


def _row_labels(annotated: AnnotatedTensor) -> list[tuple[int, int]] | None:
    """`(layer, direction)` of each row of a state, from its names (None: its axis 0 is
    not made of `layer` and `direction`). A name neither on the axis nor in `.at` is one
    and the same for every row (`_ALL`): a unidirectional layer's rows, or directions
    summed."""
    group = annotated.axes.groups[0]
    if not group or any(name not in _ROWS for name in group):
        return None
    size = annotated.axes.size_of
    ranges = []
    for name in group:
        start, stop, step = annotated.sliced.get(name, (0, size[name], 1))
        ranges.append(range(start, stop, step))
    rows = []
    for positions in itertools.product(*ranges):
        known = {**annotated.at, **dict(zip(group, positions, strict=True))}
        rows.append((known.get("layer", _ALL), known.get("direction", _ALL)))
    return rows


def _same(kept: int, kept_too: int, told: int, told_too: int) -> bool:
    """Two rows alike in one name (`kept`) and told apart by the other (`told`)."""
    return kept == kept_too and told != told_too


def _from(annotated: AnnotatedTensor) -> str:
    return annotated.origin or "a hooked layer"


def _source(annotated: AnnotatedTensor) -> str:
    """`encoder`: the layer whose state this is (its origin without the role)."""
    return _from(annotated).rsplit(".", 1)[0]


def _row_text(row: tuple[int, int]) -> str:
    layer, direction = row
    parts = [] if layer == _ALL else [f"layer {layer}"]
    if direction != _ALL:
        parts.append(DIRECTIONS[direction] if direction < 2 else f"direction {direction}")
    return " ".join(parts) or "a row"


def _directions_as_layers(
    label: str, role: str, annotated: AnnotatedTensor, rows: list[Any], directions: int
) -> str:
    held = ", ".join(_row_text(row) for row in rows)
    if len({layer for layer, _ in rows}) == 1:
        held = (
            " and ".join(DIRECTIONS[d] if d is not None and d < 2 else "?" for _, d in rows)
            + " directions"
        )
    reads = "layers " + " and ".join(str(r // directions) for r in range(len(rows)))
    return (
        f"{label} reads the {len(rows)} rows of its {role} as {reads}, but they hold "
        f"{_from(annotated)}'s {held}: {_source(annotated)}'s directions become {label}'s layers. "
        "Hand over one row per layer: sum the directions (h_n.view(layers, 2, batch, "
        "hidden).sum(1)), or join them (torch.cat([h_n[0::2], h_n[1::2]], -1)) for a "
        f"{label} of twice the hidden size or through a Linear; or make {label} "
        f"bidirectional, with {_source(annotated)}'s number of layers."
    )


def _layers_as_directions(
    label: str, role: str, annotated: AnnotatedTensor, rows: list[Any]
) -> str:
    held, source = ", ".join(_row_text(row) for row in rows), _source(annotated)
    return (
        f"{label} reads the rows of its {role} as the forward and backward directions of "
        f"each layer, but they hold {_from(annotated)}'s {held}: {source}'s layers "
        f"become {label}'s directions. Give {label} {source}'s layout (as many layers, "
        "unidirectional), or build its state from one layer per direction explicitly."
    )
