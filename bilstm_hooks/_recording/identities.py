"""`Record.check()`: the layout identities proved on one call's own tensors.

The forward half of `out` at each sequence's last valid token must equal the last
layer's forward row of `h_n`, the backward half at token 0 its backward row; NaN
equals NaN (a NaN in the input or a weight reaches both). Values changed in place
since the call, or held inside `torch.func.vmap`, are refused with the reason,
never blamed on the layout.

>>> import torch, bilstm_hooks as bh
>>> gru = torch.nn.GRU(3, 4, bidirectional=True)
>>> rec = bh.attach_hooks(gru)
>>> out, h_n = gru(torch.randn(5, 2, 3))
>>> r = rec[gru]
>>> check_identities(r.where, r.layout, {"out": out, "h_n": h_n}, r.final, None)  # they hold
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from .._base.errors import LayoutError
from .._base.tolerance import IDENTITIES
from .._helpers.last_outputs import last_outputs
from .._names.layout import Layout, Role

__all__ = ["check_identities"]

_UNVERSIONED = (
    "\n  The call ran under torch.inference_mode: its tensors keep no version counter, so a "
    "change in place since the call (h_n.zero_(), say) cannot be told from a wrong layout. "
    "Under torch.no_grad() such a change is caught and named."
)


def check_identities(
    where: str,
    layout: Layout,
    tensors: Mapping[Role, torch.Tensor | None],
    final: Callable[[], torch.Tensor],
    lengths: torch.Tensor | None,
    unversioned: bool = False,
) -> None:
    """See `Record.check`: `tensors` (`out` padded, `h_n`, `c_n`) of the call `where`,
    and its `final()` representation; `unversioned`: inference tensors, whose changes in
    place cannot be told (a failure says so)."""
    found = {}
    for role, tensor in tensors.items():
        if tensor is None:
            continue
        axes = layout.axes(role)
        if not axes.matches(tensor.shape):
            raise LayoutError(
                f"{where}: {role} should be {axes.expected()}, got shape {tuple(tensor.shape)}"
            )
        found[role] = tensor
    out = found["out"]
    if out.device.type == "meta":
        raise ValueError(
            f"{where}: cannot check the identities of a call on the meta device: meta "
            "tensors hold no values (their shapes match their annotations); run the "
            "layer on a real device to check them"
        )
    expected = final()
    got = last_outputs(out, lengths, batch_first=layout.batch_first, directions=layout.directions)
    rtol, atol = IDENTITIES.get(out.dtype, (0.0, 0.0))
    h = layout.h_out
    last = layout.layers - 1
    for d, (name, token) in enumerate(
        (("forward", "the last valid token"), ("backward", "token 0"))[: layout.directions]
    ):
        a, b = got[..., d * h : (d + 1) * h], expected[..., d * h : (d + 1) * h]
        close = torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True).all(dim=-1)
        if not bool(close.all()):
            bad = (~close).nonzero().flatten().tolist() if close.dim() else []
            rows = f" in batch rows {bad}" if layout.batched else ""
            both_nan = a.isnan() & b.isnan()
            diff = float((a.double() - b.double()).abs().masked_fill(both_nan, 0.0).max())
            row = last * layout.directions + d
            nan = " (NaN on one side only)" if math.isnan(diff) else ""
            raise LayoutError(
                f"{where}: the {name} half of out at {token} differs from h_n[{row}] "
                f"(layer {last}, {name}){rows}; max |difference| {diff:.3g}{nan}.\n"
                f"  out: {layout.axes('out').described()}\n"
                f"  h_n: {layout.axes('h_n').described()}"
                + (f"\n  lengths: {lengths.tolist()}" if lengths is not None else "")
                + (_UNVERSIONED if unversioned else "")
            )
