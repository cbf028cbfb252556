"""Unrolled: every layer of one recorded call at every token, with its check against the call.

`Record.unroll()` returns one. Padded positions of a packed batch hold zeros, and
`.mask` (`batch token`, True where a step is valid) says which they are: the
convention of `pad_packed_sequence`, so that the tensors stay finite for plots and
reductions that use the mask.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import torch
from torch.nn.utils.rnn import PackedSequence

from .._base.packed import packed_lengths_nosync
from .._base.versions import weight_versions
from .._core import registry
from .._core.annotated import AnnotatedTensor
from .._core.providers import provider
from .._names.layout import Axes, Layout
from .call import RecordedCall
from .check import check
from .recurrence import GATE_NAMES, Replayed, replay
from .saturation import Saturation, saturation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Unrolled", "unroll_axes"]


def unroll_axes(layout: Layout, hidden: int, gates: int = 0) -> Axes:
    """`layer direction [gate] [batch] token hidden` with this call's sizes."""
    names = ["layer", "direction"] + ["gate"] * bool(gates)
    names += ["batch"] * layout.batched + ["token", "hidden"]
    size = {
        "layer": layout.layers,
        "direction": layout.directions,
        "gate": gates,
        "batch": layout.batch or 0,
        "token": layout.tokens,
        "hidden": hidden,
    }
    return Axes.of([(name,) for name in names], size)


class Unrolled:
    """One recorded call replayed: every layer and direction at every token.

    Attributes:
        record: the `Record` replayed.
        gate_names: `("input", "forget", "cell", "output")` for an LSTM (torch's i, f,
            g, o), `("reset", "update", "new")` for a GRU (r, z, n), `()` for an RNN.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> gru = torch.nn.GRU(3, 4, num_layers=2)
        >>> with bh.attach_hooks(gru) as rec:
        ...     out, h_n = gru(torch.randn(6, 2, 3))
        >>> u = rec[gru].unroll(gates=True)
        >>> u.out  # layer 0 too, which the fused call never returns
        AnnotatedTensor[layer=2, direction=1, batch=2, token=6, hidden=4]
        >>> u.gates.sizes["gate"], u.gate_names
        (3, ('reset', 'update', 'new'))
        >>> torch.allclose(u.out.tensor[-1, 0].transpose(0, 1), out, atol=1e-6)  # the last layer
        True
    """

    def __init__(self, record: RecordedCall, *, gates: bool = False) -> None:
        self.record = record
        self._replayed: Replayed = replay(record, gates=gates)
        self._versions = weight_versions(record.module)
        self.gate_names: tuple[str, ...] = GATE_NAMES[record.layout.kind]

    @property
    def layout(self) -> Layout:
        """The layout of the call replayed."""
        return self.record.layout

    def _annotated(
        self, tensor: torch.Tensor, role: str, hidden: int, gates: int = 0
    ) -> AnnotatedTensor:
        if not self.layout.batched:
            tensor = tensor.select(tensor.dim() - 3, 0)
        axes = unroll_axes(self.layout, hidden, gates)
        origin = f"{self.record.label}.unroll().{role}"
        # named wherever the tensor goes: describe(), debuggers, follow mode
        registry.tag(tensor, registry.Named(axes, origin, lengths=self._lengths))
        return AnnotatedTensor(tensor, axes, origin)

    @cached_property
    def _lengths(self) -> tuple[int, ...] | None:
        """The valid tokens per sequence of a packed call, where known without a sync."""
        raw = self.record.raw("out")
        if not isinstance(raw, PackedSequence):
            return None
        lengths, in_order = packed_lengths_nosync(raw)
        return tuple(lengths.tolist()) if in_order else None

    @cached_property
    def out(self) -> AnnotatedTensor:
        """Every layer's output at every token, `layer direction batch token hidden`
        (no `batch` for an unbatched call; hidden is `proj_size` when set). Zeros at padding."""
        return self._annotated(self._replayed.out, "out", self.layout.h_out)

    @cached_property
    def c(self) -> AnnotatedTensor | None:
        """LSTM: the cell state at every step, `layer direction batch token hidden`
        (hidden_size); None for a GRU or RNN."""
        c = self._replayed.c
        return None if c is None else self._annotated(c, "c", self.layout.hidden)

    @cached_property
    def gates(self) -> AnnotatedTensor | None:
        """The activated gates, `layer direction gate batch token hidden`, in the order of
        `gate_names` (sigmoid gates in (0, 1); LSTM's cell and GRU's new gate: tanh);
        None for an RNN. Replayed again on first read unless `unroll(gates=True)`."""
        if not self.gate_names:
            return None
        gates = self._replayed.gates
        if gates is None:
            if weight_versions(self.record.module) != self._versions:
                raise ValueError(
                    f"cannot compute the gates of this unroll of {self.record.where}: the "
                    "layer's weights changed since it was unrolled, and the gates would not "
                    "match .out. Unroll again with record.unroll(gates=True)"
                )
            gates = replay(self.record, gates=True).gates
            assert gates is not None
        return self._annotated(gates, "gates", self.layout.hidden, len(self.gate_names))

    @property
    def mask(self) -> torch.Tensor:
        """`batch token` booleans, True at valid steps (`token` only when unbatched)."""
        mask = self._replayed.mask
        return mask if self.layout.batched else mask[0]

    @property
    def replayed(self) -> Replayed:
        """The replay's plain tensors, the batch axis kept (of size 1 when unbatched), the
        gates None unless replayed with them."""
        return self._replayed

    @property
    def lengths(self) -> torch.Tensor | None:
        """Per-sequence lengths of a packed call (batch order), else None."""
        return self.record.lengths

    def check(self, *, rtol: float | None = None, atol: float | None = None) -> float:
        """Compare the replay with the fused call's own results; return the max |difference|.

        The last layer must equal `out` at every valid position, and each layer's
        last valid step (forward: the last valid token, backward: token 0) its rows
        of `h_n` and `c_n`, within `|replay - fused| <= atol + rtol * |fused|`:
        float64 1e-10 + 1e-10·|fused|, float32 1e-5 + 1e-5·|fused| (float16 2e-2,
        bfloat16 6e-2: those calls round every step, the replay runs in float32).
        `rtol=` and `atol=` replace the dtype's bounds (rounding grows with the
        number of tokens and layers). A call on a batch of 0 has nothing to compare: 0.0.

        Raises:
            LayoutError: naming the tensor, where it differs most, both values and the
                max |difference|.
            TypeError: `rtol` or `atol` is not a real number (a bool is not; a 0-d tensor is).
            ValueError: `rtol` or `atol` is below 0 or NaN.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 3))  # unbatched
            >>> rec[gru].unroll().check() < 1e-5
            True
        """
        return check(self.record, self._replayed, rtol=rtol, atol=atol)

    def saturation(self) -> Saturation:
        """Per layer, direction and gate: the share of valid steps near each end of the
        gate's range (sigmoid gates < 0.1 and > 0.9; tanh gates < -0.8 and > 0.8).

        Raises:
            ValueError: an RNN has no gates.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> gru = torch.nn.GRU(3, 4)
            >>> with bh.attach_hooks(gru) as rec:
            ...     out, h_n = gru(torch.randn(6, 2, 3))
            >>> rec[gru].unroll().saturation().high.sizes
            {'layer': 1, 'direction': 1, 'gate': 3}
        """
        if not self.gate_names:
            raise ValueError(
                f"{self.record.where}: an RNN has no gates, so no gate saturation; its states "
                "are in .out (plot them with .plot())"
            )
        gates = self.gates
        assert gates is not None
        return saturation(self.record, self.gate_names, gates, self._replayed.mask)

    def plot(self, *, sequence: int = 0, state: str = "out") -> Figure:
        """Heatmaps (token x hidden) per layer and direction of one sequence, padding grey.

        `state` is `"out"` (h), `"c"` (LSTM) or a gate name (`"forget"`). Needs
        matplotlib: `pip install bilstm-hooks[plot]`. Returns a matplotlib Figure
        (shown inline by Jupyter; `.savefig("unroll.png")`).

        Raises:
            ImportError: matplotlib is not installed.
            ValueError: an unknown `state` or `sequence`, or a call on a batch of 0.

        Examples:
            >>> import torch, bilstm_hooks as bh
            >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
            >>> with bh.attach_hooks(lstm) as rec:
            ...     out, _ = lstm(torch.randn(6, 2, 3))
            >>> figure = rec[lstm].unroll().plot(sequence=1, state="forget")
            >>> figure.axes[0].get_title()  # the last layer on top, forward on the left
            'layer 1 forward →'
        """
        figure: Figure = provider("plot")(self, sequence=sequence, state=state)
        return figure

    def __repr__(self) -> str:
        return str(provider("unrolled text")(self))

    def _repr_html_(self) -> str:
        return str(provider("unrolled html")(self))
