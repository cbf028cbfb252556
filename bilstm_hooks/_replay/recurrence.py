"""The replay of one recorded call: every layer, every token, with the layer's own weights.

The equations are those of torch's documentation for `nn.LSTM` (with `proj_size`:
h_t = W_hr (o_t * tanh(c_t))), `nn.GRU` (n_t = tanh(W_in x + b_in + r_t * (W_hn h + b_hn)))
and `nn.RNN` (tanh or relu). Vectorised over the batch: the loops run over layers,
directions and tokens only. Each layer's input projection is one matrix product over
all tokens; a step then costs one product with W_hh plus elementwise work.

Steps are laid out as PackedSequence data is (time-major, the sequences active at a
step first, longest first), also for a plain tensor (every sequence active at every
step): at step t only the first `batch_sizes[t]` sequences are computed, so a packed
batch computes its valid steps only. `batch_sizes` lives on the CPU: the loop bounds
never sync a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from .._base.dtypes import dtype_name
from .._names.layout import Layout
from .call import RecordedCall

__all__ = ["GATE_NAMES", "Replayed", "refusal", "replay"]

GATE_NAMES = {
    "LSTM": ("input", "forget", "cell", "output"),  # torch's i, f, g, o
    "GRU": ("reset", "update", "new"),  # torch's r, z, n
    "RNN": (),
}
_COMPUTED = (torch.float32, torch.float64)  # float16 and bfloat16 are replayed in float32


@dataclass(frozen=True)
class Replayed:
    """The replay's tensors, padded with zeros; the batch axis kept (size 1 if unbatched)."""

    out: torch.Tensor  # layer direction batch token hidden (H_out)
    c: torch.Tensor | None  # LSTM: layer direction batch token hidden (hidden_size)
    gates: torch.Tensor | None  # layer direction gate batch token hidden, when asked for
    mask: torch.Tensor  # batch token: True at valid steps


def refusal(record: RecordedCall) -> str | None:
    """Why this call cannot be replayed faithfully, or None."""
    module = record.module
    what = f"unroll this call of {record.where}"
    if record.trained_with_dropout:
        return (
            f"cannot {what}: it ran in train mode with "
            f"inter-layer dropout={module.dropout}, whose masks were drawn inside the fused "
            "kernel and cannot be known. Call the model in eval mode (model.eval()) or with "
            "dropout=0, then unroll that call"
        )
    moved = record.why_unreadable(what, ("input",))
    if moved is not None:
        return moved
    if record.weights_changed:
        return (
            f"cannot {what}: the layer's weights changed "
            "since the call (their version counters moved: optimizer.step(), "
            "load_state_dict(), an in-place update), and a replay with other weights would "
            "not be this call's. Unroll right after the call, before the step"
        )
    raw = record.raw("input")
    data = raw.data if isinstance(raw, PackedSequence) else raw
    assert data is not None
    if data.device.type == "meta":
        return (
            f"cannot {what}: it ran on the meta device, whose "
            "tensors hold no values; run the layer on a real device to unroll it"
        )
    if not data.dtype.is_floating_point:
        return f"cannot {what}: expected a floating-point input, got {data.dtype}"
    return None


def replay(record: RecordedCall, *, gates: bool = False) -> Replayed:
    """Replay `record`'s call step by step; `gates` keeps the activated gates too.

    Raises:
        ValueError: the call cannot be replayed (see `refusal`), or the layer's
            weights are no longer where the call ran (another device or dtype).
    """
    reason = refusal(record)
    if reason is not None:
        raise ValueError(reason)
    with torch.no_grad():
        return _replay(record, gates)


class _Steps:
    """The call's input as time-major steps, and how to pad step-major data back."""

    def __init__(self, record: RecordedCall) -> None:
        layout = record.layout
        raw = record.raw("input")
        assert raw is not None
        self.packed = raw if isinstance(raw, PackedSequence) else None
        if self.packed is not None:
            self.data = raw.data
            self.batch_sizes: list[int] = self.packed.batch_sizes.tolist()  # a CPU tensor
            self.batch = layout.batch or 1
        else:
            assert isinstance(raw, torch.Tensor)
            x = raw.unsqueeze(1) if not layout.batched else raw
            if layout.batched and layout.batch_first:
                x = x.transpose(0, 1)
            self.batch = x.shape[1]
            self.data = x.reshape(x.shape[0] * x.shape[1], x.shape[2])
            self.batch_sizes = [self.batch] * x.shape[0]
        self.tokens = len(self.batch_sizes)
        self.offsets = [0, *accumulate(self.batch_sizes)][:-1]

    def sorted_state(self, state: torch.Tensor) -> torch.Tensor:
        """An initial state (rows, batch, size) from the caller's order to the steps' order."""
        packed = self.packed
        if packed is not None and packed.sorted_indices is not None:
            return state.index_select(1, packed.sorted_indices.to(state.device))
        return state

    def padded(self, data: torch.Tensor) -> torch.Tensor:
        """Step-major `data` (steps, *rest) as (token, batch, *rest), caller order, zero-padded."""
        rest = data.shape[1:]
        if self.packed is None:
            return data.view(self.tokens, self.batch, *rest)
        packed = self.packed
        flat = PackedSequence(
            data.reshape(data.shape[0], -1),
            packed.batch_sizes,
            packed.sorted_indices,
            packed.unsorted_indices,
        )
        padded, _ = pad_packed_sequence(flat, total_length=self.tokens)
        return padded.view(self.tokens, padded.shape[1], *rest)


def _weights(
    module: nn.Module, layer: int, direction: int, dtype: torch.dtype, like: torch.Tensor
) -> dict[str, torch.Tensor | None]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    found: dict[str, torch.Tensor | None] = {}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
        w = getattr(module, name + suffix, None)
        if w is not None and (w.device != like.device or w.dtype != like.dtype):
            raise ValueError(
                f"cannot unroll: the layer's {name + suffix} is now {dtype_name(w.dtype)} on "
                f"{w.device}, but the call ran on {dtype_name(like.dtype)} input on {like.device}: "
                "the layer was moved or converted since the call. Call it again where it is "
                "now, then unroll"
            )
        found[name] = None if w is None else w.detach().to(dtype)
    return found


def _replay(record: RecordedCall, with_gates: bool) -> Replayed:
    layout: Layout = record.layout
    module = record.module
    kind = layout.kind
    steps = _Steps(record)
    data = steps.data
    dtype = data.dtype if data.dtype in _COMPUTED else torch.float32
    L, D, H, P, B = layout.layers, layout.directions, layout.hidden, layout.h_out, steps.batch
    G = len(GATE_NAMES[kind])
    n, T = data.shape[0], steps.tokens

    def empty(*shape: int) -> torch.Tensor:
        made = torch.empty(shape, device=data.device, dtype=dtype)
        return made.zero_() if steps.packed is not None else made  # padding: zeros

    def initial(state: torch.Tensor | None, size: int) -> torch.Tensor:
        if state is None:
            return torch.zeros(L * D, B, size, device=data.device, dtype=dtype)
        state = state.unsqueeze(1) if not layout.batched else state
        return steps.sorted_state(state.to(dtype))

    h0 = initial(record.h_0, P)
    c0 = initial(record.c_0, H) if kind == "LSTM" else None

    # the results, and one layer's steps (step-major, as packed data): reused by every layer
    def steps_of(*shape: int) -> torch.Tensor:
        return torch.empty(n, D, *shape, device=data.device, dtype=dtype)

    out_all, out_steps = empty(L, D, B, T, P), (steps_of(P), steps_of(P))
    c_all = empty(L, D, B, T, H) if c0 is not None else None
    c_steps = steps_of(H) if c0 is not None else None
    keep_gates = with_gates and G > 0
    gates_all = empty(L, D, G, B, T, H) if keep_gates else None
    g_steps = steps_of(G, H) if keep_gates else None
    layer_input = data.to(dtype)
    for k in range(L):
        out = out_steps[k % 2]  # the other one holds this layer's input
        for d in range(D):
            weights = _weights(module, k, d, dtype, data)
            state = (h0[k * D + d].clone(), None if c0 is None else c0[k * D + d].clone())
            _direction(
                kind, module, H, steps, d, layer_input, weights, state, out, c_steps, g_steps
            )
        _store(steps, out, out_all[k])
        if c_all is not None:
            assert c_steps is not None
            _store(steps, c_steps, c_all[k])
        if gates_all is not None:
            assert g_steps is not None
            _store(steps, g_steps, gates_all[k])
        layer_input = out.view(n, D * P)
    ones = torch.ones(n, dtype=torch.uint8, device=data.device)
    return Replayed(out=out_all, c=c_all, gates=gates_all, mask=steps.padded(ones).t().bool())


def _store(steps: _Steps, data: torch.Tensor, into: torch.Tensor) -> None:
    """One layer's step-major `data` (steps, direction, [gate,] hidden) into its results,
    direction [gate] batch token hidden."""
    padded = steps.padded(data)  # token batch direction [gate] hidden
    last = padded.dim() - 1
    into.copy_(padded.permute(*range(2, last), 1, 0, last))


def _direction(
    kind: str,
    module: nn.Module,
    H: int,
    steps: _Steps,
    d: int,
    x: torch.Tensor,
    w: dict[str, torch.Tensor | None],
    state: tuple[torch.Tensor, torch.Tensor | None],
    out: torch.Tensor,
    cell: torch.Tensor | None,
    gate: torch.Tensor | None,
) -> None:
    """Run direction `d` of one layer over every step of `x`, writing h (and c, the gates)
    of each step into `out` (`cell`, `gate`) at its rows."""
    w_ih, w_hh, b_ih, b_hh = w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]
    assert w_ih is not None
    assert w_hh is not None
    bias = b_ih
    if b_hh is not None and kind != "GRU":  # GRU's b_hn sits inside r * (...)
        bias = b_hh if bias is None else bias + b_hh
    xw = x @ w_ih.t() if bias is None else torch.addmm(bias, x, w_ih.t())  # every step at once
    w_hh_t, w_hr_t = w_hh.t(), None if w["weight_hr"] is None else w["weight_hr"].t()
    G = w_hh.shape[0] // H
    nonlinearity = torch.relu if getattr(module, "mode", "") == "RNN_RELU" else torch.tanh
    h, c = state
    g = None
    for t in range(steps.tokens) if d == 0 else reversed(range(steps.tokens)):
        bs, at = steps.batch_sizes[t], steps.offsets[t]  # the first `bs` sequences are active
        x_t, h_prev = xw[at : at + bs], h[:bs]
        if kind == "LSTM":
            assert c is not None
            assert cell is not None
            g = torch.addmm(x_t, h_prev, w_hh_t)  # i f g o
            g[:, : 2 * H].sigmoid_()
            g[:, 2 * H : 3 * H].tanh_()
            g[:, 3 * H :].sigmoid_()
            c_new = torch.addcmul(g[:, H : 2 * H] * c[:bs], g[:, :H], g[:, 2 * H : 3 * H])
            h_new = g[:, 3 * H :] * c_new.tanh()
            if w_hr_t is not None:
                h_new = h_new @ w_hr_t
            c[:bs] = c_new
            cell[at : at + bs, d] = c_new
        elif kind == "GRU":
            gh = h_prev @ w_hh_t if b_hh is None else torch.addmm(b_hh, h_prev, w_hh_t)
            rz = torch.sigmoid(x_t[:, : 2 * H] + gh[:, : 2 * H])
            n_t = torch.tanh(torch.addcmul(x_t[:, 2 * H :], rz[:, :H], gh[:, 2 * H :]))
            h_new = torch.addcmul(n_t, rz[:, H:], h_prev - n_t)  # (1 - z) n + z h
            if gate is not None:
                g = torch.cat((rz, n_t), 1)
        else:
            h_new = nonlinearity(torch.addmm(x_t, h_prev, w_hh_t))
        h[:bs] = h_new
        out[at : at + bs, d] = h_new
        if gate is not None:
            assert g is not None
            gate[at : at + bs, d] = g.view(bs, G, H)
