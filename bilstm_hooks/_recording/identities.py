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
>>> check_record(rec[gru])  # silent: the identities hold
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .._base.errors import LayoutError
from .._helpers.outputs import last_outputs
from .._names.layout import Role, quoted_label_of
from .versions import in_place_reason, outside_vmap

if TYPE_CHECKING:
    from .record import Record

__all__ = ["TOLERANCE", "check_record"]

# rtol, atol per dtype: those of torch.testing.assert_close
TOLERANCE = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}


def check_record(record: Record) -> None:
    """See `Record.check`."""
    layout = record.layout
    where = f"{quoted_label_of(record.name, record.module)} ({layout.describe_module()})"
    reason = outside_vmap(record, "check the identities") or in_place_reason(
        record, "check the identities", ("out", "h_n", "c_n")
    )
    if reason is not None:
        raise ValueError(f"{where}: {reason}")
    tensors = {}
    roles: tuple[Role, ...] = ("out", "h_n", "c_n")
    for role in roles:
        tensor = record._plain(role)
        if tensor is None:
            continue
        axes = layout.axes(role)
        if not axes.matches(tensor.shape):
            raise LayoutError(
                f"{where}: {role} should be {axes.expected()}, got shape {tuple(tensor.shape)}"
            )
        tensors[role] = tensor
    out = tensors["out"]
    if out.device.type == "meta":
        raise ValueError(
            f"{where}: cannot check the identities of a call on the meta device: meta "
            "tensors hold no values (their shapes match their annotations); run the "
            "layer on a real device to check them"
        )
    expected = record.final()
    got = last_outputs(
        out, record.lengths, batch_first=layout.batch_first, directions=layout.directions
    )
    rtol, atol = TOLERANCE.get(out.dtype, (0.0, 0.0))
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
                + (f"\n  lengths: {record.lengths.tolist()}" if record.lengths is not None else "")
            )
