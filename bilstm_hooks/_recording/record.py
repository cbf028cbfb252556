"""Record: one forward call of one recurrent module, annotated on demand."""

from __future__ import annotations

from functools import cached_property

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.arguments import expect_bool, expect_count
from .._base.packed import packed_lengths
from .._base.versions import ROLES, Originals, unreadable_reason, weight_versions
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.picture import Diagram
from .._core.providers import provider
from .._helpers.outputs import final_representation
from .._names.layout import Layout, Role, label_of, quoted_label_of
from .._replay.unrolled import Unrolled
from .identities import check_identities

__all__ = ["Record"]


class Record:
    """One forward call of one recurrent module.

    Tensors are kept as the layer returned them (without the graph by default) and
    annotated when read; a packed output is padded only when `.out` is read.

    Attributes:
        name: the module's qualified name in the hooked model (`""` for the model itself).
        module: the recurrent module.
        layout: the layer's configuration plus this call's shape (batch, tokens, packed),
            from which every annotation of the record is derived.
    """

    def __init__(
        self,
        name: str,
        module: nn.Module,
        layout: Layout,
        input: torch.Tensor | PackedSequence,
        out: torch.Tensor | PackedSequence,
        h_n: torch.Tensor,
        c_n: torch.Tensor | None,
        hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
        training: bool | None = None,
        versions: tuple[int, int, int, int] | None = None,
        originals: Originals = None,
        *,
        label: str | None = None,
    ) -> None:
        self.name, self.module, self.layout = name, module, layout
        self._label = label_of(name, module) if label is None else label
        self._raw_input = input
        self._raw_out = out
        self._raw_h_n = h_n
        self._raw_c_n = c_n
        self._hx = hx
        self._training = training  # the module's train mode during the call, when kept
        self._call_versions = versions  # of out, h_n, c_n and the input at the call
        self._originals = originals  # where a value is a copy without the graph (`versions`)
        # the layer's parameters' versions now: built on first read, or before the next
        # optimizer step (`_recording.recorder`), so the call's weights unless changed otherwise
        self._weights = weight_versions(module)
        self._padded: dict[str, torch.Tensor] = {}

    @property
    def kind(self) -> str:
        """`"LSTM"`, `"GRU"` or `"RNN"`."""
        return self.layout.kind

    @property
    def label(self) -> str:
        """The name shown with its tensors: the qualified name, or the class for a root
        module; prefixed with the model's class where another model's layer has its name."""
        return self._label

    @property
    def where(self) -> str:
        """`'encoder' (LSTM, 2 layers, bidirectional, ...)`: the module and the call, as
        messages name them."""
        return f"{quoted_label_of(self.name, self.module)} ({self.layout.describe_module()})"

    def raw(self, role: Role) -> torch.Tensor | PackedSequence | None:
        """The tensor of `role` as the layer was given or returned it, unannotated: a
        PackedSequence for a packed call's `input` and `out`; None for a GRU's `c_n`.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> from torch.nn.utils.rnn import pack_sequence
            >>> gru = torch.nn.GRU(3, 4)
            >>> rec = bh.attach_hooks(gru)
            >>> out, h_n = gru(pack_sequence([torch.randn(5, 3), torch.randn(2, 3)]))
            >>> type(rec[gru].raw("out")).__name__, rec[gru].out.shape
            ('PackedSequence', torch.Size([5, 2, 4]))
        """
        raws = (self._raw_out, self._raw_h_n, self._raw_c_n, self._raw_input)  # ROLES order
        raw: torch.Tensor | PackedSequence | None = dict(zip(ROLES, raws, strict=True))[role]
        return raw

    def returned(self, tensor: torch.Tensor) -> bool:
        """Whether `tensor` (or its base) is the `h_n` or `c_n` this call returned to its caller."""
        refs = self._originals  # a copy without the graph is kept: the originals' references
        h_n = refs[1]() if refs and refs[1] else self._raw_h_n
        c_n = refs[2]() if refs and refs[2] else self._raw_c_n
        return any(t is not None and (t is tensor or t is tensor._base) for t in (h_n, c_n))

    def why_unreadable(self, what: str, roles: tuple[str, ...] = ROLES) -> str | None:
        """Why the call's values cannot be read to `what` now, or None: they live inside
        `torch.func.vmap`, or those of `roles` changed in place since the call.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4)
            >>> rec = bh.attach_hooks(lstm)
            >>> out, (h_n, c_n) = lstm(torch.randn(5, 2, 3))
            >>> rec[lstm].why_unreadable("check it") is None
            True
            >>> print(rec[lstm].why_unreadable("check it", ("h_n",)) if h_n.zero_() is h_n else "")
            cannot check it: h_n was changed in place since the call (a version counter ...
        """
        values = {role: self.raw(role) for role in ROLES}  # type: ignore[arg-type]
        return unreadable_reason(values, self._call_versions, self._originals, what, roles)

    @property
    def weights_changed(self) -> bool:
        """Whether the layer's parameters changed in place (`optimizer.step()`,
        `load_state_dict()`) since this record was built: on first read, or before the
        next optimizer step."""
        return bool(self._weights) and weight_versions(self.module) != self._weights

    def _plain(self, role: Role) -> torch.Tensor | None:
        """The tensor of `role`, padded if it was packed (padded once, then kept)."""
        cached = self._padded.get(role)
        if cached is not None:
            return cached
        raw = self.raw(role)
        if isinstance(raw, PackedSequence):
            raw, _ = pad_packed_sequence(raw, batch_first=self.layout.batch_first)
            self._padded[role] = raw
        return raw

    def _annotate(self, role: Role) -> AnnotatedTensor | None:
        tensor = self._plain(role)
        if tensor is None:
            return None
        origin = f"{self.label}.{role}"
        registry.tag(tensor, registry.Tag(self.layout, role, origin))
        return AnnotatedTensor(tensor, self.layout.axes(role), origin)

    @cached_property
    def input(self) -> AnnotatedTensor:
        """The input, `batch token feature` (padded if it was packed)."""
        return self._annotate("input")  # type: ignore[return-value]

    @cached_property
    def out(self) -> AnnotatedTensor:
        """The per-token output of the last layer, `batch token (direction hidden)`."""
        return self._annotate("out")  # type: ignore[return-value]

    @cached_property
    def h_n(self) -> AnnotatedTensor:
        """The final hidden state of every layer and direction, `(layer direction) batch hidden`."""
        return self._annotate("h_n")  # type: ignore[return-value]

    @cached_property
    def c_n(self) -> AnnotatedTensor | None:
        """The final cell state (LSTM only, else None), `(layer direction) batch hidden`."""
        return self._annotate("c_n")

    @property
    def h_0(self) -> torch.Tensor | None:
        """The initial hidden state the call was given, `(layer direction) batch hidden`;
        None when it started from zeros (no `hx`)."""
        return self._hx[0] if isinstance(self._hx, tuple) else self._hx

    @property
    def c_0(self) -> torch.Tensor | None:
        """The initial cell state the call was given (LSTM), else None."""
        return self._hx[1] if isinstance(self._hx, tuple) else None

    @property
    def trained_with_dropout(self) -> bool:
        """Whether the call drew inter-layer dropout masks: train mode, `dropout` > 0 and
        more than one layer. Such a call cannot be unrolled: its masks are unknown."""
        training = self._training
        if training is None:  # not kept with the call: the module's mode now
            training = self.module.training
        dropout = getattr(self.module, "dropout", 0) or 0
        return bool(training) and dropout > 0 and self.layout.layers > 1

    @cached_property
    def lengths(self) -> torch.Tensor | None:
        """Per-sequence lengths (1-D, in batch order) for packed input, else None."""
        if isinstance(self._raw_out, PackedSequence):
            return packed_lengths(self._raw_out)
        return None

    @property
    def packed(self) -> bool:
        """Whether the layer was called on a PackedSequence (`out` is then padded when read)."""
        return self.layout.packed

    def final(self) -> torch.Tensor:
        """The sequence representation, `batch (direction hidden)`.

        The last layer's rows of `h_n`, directions side by side: right for every
        sequence of a packed batch, unlike `out[:, -1]`.
        """
        layout = self.layout
        reason = self.why_unreadable("read the final state", ())
        if reason is not None:
            raise ValueError(f"{quoted_label_of(self.name, self.module)}: {reason}")
        return final_representation(
            self._raw_h_n, layers=layout.layers, directions=layout.directions
        )

    def check(self) -> None:
        """Prove the layout identities on this call's tensors.

        - every tensor has the shape its annotation says;
        - the forward half of `out` at each sequence's last valid token equals the
          last layer's forward row of `h_n`;
        - the backward half of `out` at token 0 equals the last layer's backward row.

        Values are compared as `torch.testing.assert_close` does, NaN equal to NaN.

        Raises:
            LayoutError: naming the identity that failed, the module and where.
            ValueError: the values are not the call's any more (`out`, `h_n` or `c_n`
                changed in place since), the call ran on the meta device, or inside
                `torch.func.vmap`.
        """
        reason = self.why_unreadable("check the identities", ("out", "h_n", "c_n"))
        if reason is not None:
            raise ValueError(f"{self.where}: {reason}")
        roles: tuple[Role, ...] = ("out", "h_n", "c_n")
        tensors = {role: self._plain(role) for role in roles}
        unversioned = self._call_versions is not None and self._call_versions[1] == -1
        check_identities(self.where, self.layout, tensors, self.final, self.lengths, unversioned)

    def unroll(self, *, gates: bool = False) -> Unrolled:
        """Replay this call step by step: every layer's state at every token.

        Uses the layer's own weights (as they are now) and the call's input and
        initial state, under `torch.no_grad()`; the model, its gradients and the RNG
        state are left as they were. `gates=True` keeps the activated gates too
        (else `.gates` replays again when first read).

        Raises:
            TypeError: `gates` is not a bool.
            ValueError: the call ran in train mode with inter-layer dropout (its masks
                cannot be known), on the meta device, or the layer has moved since.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
            >>> with bh.attach_hooks(lstm) as rec:
            ...     out, (h_n, c_n) = lstm(torch.randn(1, 6, 3))
            >>> u = rec[lstm].unroll()
            >>> u.out
            AnnotatedTensor[layer=2, direction=2, batch=1, token=6, hidden=4]
            >>> u.check() < 1e-5  # agrees with the fused call
            True
        """
        expect_bool("gates", gates)
        return Unrolled(self, gates=gates)

    def diagram(
        self, *, max_sequences: int = 4, max_tokens: int = 12, values: bool = False
    ) -> Diagram:
        """An SVG picture of this call: layers x tokens x directions, per sequence if packed.

        Marks the cells `out` holds and those the `h_n` (and `c_n`) rows hold.
        `values=True` unrolls the call and colours every cell by its state (the mean
        of h over its hidden units), the values in each cell's tooltip; one grid per
        sequence. Shown inline in Jupyter; `.save("call.svg")` writes it, `.svg` is
        the SVG text (`str()` a one-line summary, for a terminal).

        Raises:
            TypeError: `max_sequences` or `max_tokens` is not an int, or `values` not a bool.
            ValueError: `max_sequences` or `max_tokens` is below 1.
        """
        expect_count("max_sequences", max_sequences)
        expect_count("max_tokens", max_tokens)
        expect_bool("values", values)
        unrolled = self.unroll() if values else None
        picture: Diagram = provider("diagram")(
            self, max_sequences=max_sequences, max_tokens=max_tokens, values=unrolled
        )
        return picture

    def __repr__(self) -> str:
        return str(provider("record text")(self))

    def _repr_html_(self) -> str:
        return str(provider("record html")(self))
