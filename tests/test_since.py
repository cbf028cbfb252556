"""Checks that blame only what is to blame: NaN equal to NaN, values changed in place since the
call, weights changed by an optimizer step, calls recorded inside `torch.func.vmap`.

The layout identities are the oracle: where they hold on the call's own values, `check()`
is silent; where the values are no longer the call's, it says which changed instead of
blaming the layout.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh


def hooked(kind: str = "LSTM", **options: Any) -> tuple[nn.Module, bh.Recorder]:
    torch.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, batch_first=True, **options)
    return layer, bh.attach_hooks(layer)


# -- NaN ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("where", ["input", "weight"])
def test_a_nan_in_the_input_or_a_weight_reaches_out_and_h_n_alike(kind: str, where: str) -> None:
    layer, rec = hooked(kind, num_layers=2, bidirectional=True)
    x = torch.randn(2, 5, 3)
    if where == "input":
        x[0, 2, 1] = float("nan")
    else:
        with torch.no_grad():
            layer.weight_hh_l1[0, 0] = float("nan")
    out, _ = layer(x)
    assert out.isnan().any()
    rec[layer].check()  # NaN for NaN: the identities hold
    assert rec[layer].unroll().check() >= 0.0


def test_a_nan_on_one_side_only_is_still_a_layout_error() -> None:
    layer, rec = hooked(bidirectional=True)
    layer(torch.randn(2, 5, 3))
    record = rec[layer]
    spot = torch.zeros_like(record._raw_h_n, dtype=torch.bool)
    spot[1, 0, 0] = True
    # a new tensor, not the call's changed in place: no version moved
    record._raw_h_n = record._raw_h_n.masked_fill(spot, float("nan"))
    with pytest.raises(bh.LayoutError, match=r"backward half .* \(NaN on one side only\)"):
        record.check()


# -- changed in place since the call --------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "role"),
    [
        (lambda out, h_n, c_n: out.relu_(), "out"),
        (lambda out, h_n, c_n: h_n.zero_(), "h_n"),
        (lambda out, h_n, c_n: c_n.add_(1), "c_n"),
    ],
)
def test_check_says_a_tensor_changed_in_place_since_the_call(
    change: Callable[..., Any], role: str
) -> None:
    layer, rec = hooked(bidirectional=True)
    out, (h_n, c_n) = layer(torch.randn(2, 5, 3))
    rec[layer].check()
    change(out, h_n, c_n)
    message = rf"^<LSTM> \(LSTM, .*\): cannot check the identities: {role} was changed in place"
    with pytest.raises(ValueError, match=message):
        rec[layer].check()


def test_check_of_a_packed_call_sees_its_data_changed_in_place() -> None:
    layer, rec = hooked(bidirectional=True)
    x = torch.randn(3, 5, 3)
    x = pack_padded_sequence(x, [2, 5, 3], batch_first=True, enforce_sorted=False)
    out, _ = layer(x)
    out.data.mul_(2)
    with pytest.raises(ValueError, match=r"out was changed in place"):
        rec[layer].check()


def test_the_replay_check_says_an_output_changed_in_place() -> None:
    layer, rec = hooked(num_layers=2)
    _out, (h_n, _c_n) = layer(torch.randn(2, 5, 3))
    unrolled = rec[layer].unroll()
    assert unrolled.check() < 1e-5
    h_n.zero_()
    with pytest.raises(ValueError, match=r"cannot compare the replay with the call: h_n was"):
        unrolled.check()


def test_unroll_says_the_input_changed_in_place() -> None:
    layer, rec = hooked()
    x = torch.randn(2, 5, 3)
    layer(x)
    x.mul_(3)
    with pytest.raises(ValueError, match=r"cannot unroll this call .*: input was changed in place"):
        rec[layer].unroll()


# The hook keeps copies without the graph (`tensor.data`), whose version counters are their own:
# while the returned tensor lives its counter tells, and once it is gone the copy's own does.
def test_a_change_through_a_view_of_a_tensor_whose_name_was_dropped_is_told() -> None:
    layer, rec = hooked(bidirectional=True)
    _out, (h_n, _c_n) = layer(torch.randn(2, 5, 3))
    last = h_n[-1]  # a view: it keeps h_n alive, and shares its version counter
    del h_n
    last.zero_()
    with pytest.raises(ValueError, match=r"h_n was changed in place"):
        rec[layer].check()


def test_a_change_through_the_records_own_tensors_is_told_once_the_originals_are_gone() -> None:
    layer, rec = hooked(bidirectional=True)
    layer(torch.randn(2, 5, 3))  # nothing of the call is held but the record's copies
    rec[layer].check()
    rec[layer].h_n.tensor.zero_()
    with pytest.raises(ValueError, match=r"h_n was changed in place"):
        rec[layer].check()


def test_an_input_changed_before_the_call_and_dropped_after_it_still_unrolls() -> None:
    layer, rec = hooked()
    x = torch.randn(2, 5, 3)
    x.mul_(2)
    x.requires_grad_()  # a copy of it is kept, and its version at the call was 1, not 0
    out, _ = layer(x)
    assert rec[layer].raw("input") is not x
    del x, out
    assert rec[layer].unroll().check() < 1e-5


def test_the_kept_copies_hold_no_graph_and_not_the_originals() -> None:
    layer, rec = hooked()
    x = torch.randn(2, 5, 3, requires_grad=True)
    out, (h_n, c_n) = layer(x)
    record = rec[layer]
    for role, original in [("out", out), ("h_n", h_n), ("c_n", c_n), ("input", x)]:
        kept = record.raw(role)
        assert isinstance(kept, torch.Tensor)
        assert kept is not original
        assert kept.grad_fn is None
        assert not kept.requires_grad
        assert kept.data_ptr() == original.data_ptr()  # the same values, not a clone
    gone = weakref.ref(out)
    del out, h_n, c_n
    assert gone() is None


def test_a_call_under_inference_mode_keeps_no_versions_and_checks_as_before() -> None:
    layer, rec = hooked()
    with torch.inference_mode():
        layer(torch.randn(2, 5, 3))
    rec[layer].check()
    assert rec[layer].unroll().check() < 1e-5


# -- weights changed since the call ---------------------------------------------------------------
def test_unroll_refuses_after_an_optimizer_step() -> None:
    layer, rec = hooked(num_layers=2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    out, _ = layer(torch.randn(2, 5, 3))
    out.sum().backward()
    optimizer.step()  # the record was never read before: the step pre-hook kept its weights
    with pytest.raises(ValueError, match=r"the layer's weights changed since the call"):
        rec[layer].unroll()
    layer(torch.randn(2, 5, 3))  # a new call, with the new weights: fine
    assert rec[layer].unroll().check() < 1e-5


def test_unroll_refuses_after_an_in_place_update_once_the_record_was_read() -> None:
    layer, rec = hooked()
    layer(torch.randn(2, 5, 3))
    record = rec[layer]
    with torch.no_grad():
        layer.weight_ih_l0.mul_(2)
    with pytest.raises(ValueError, match=r"weights changed since the call"):
        record.unroll()
    with pytest.raises(ValueError, match=r"weights changed since the call"):
        record.diagram(values=True)


# -- vmap, grad -----------------------------------------------------------------------------------
def test_a_call_recorded_inside_vmap_says_why_its_values_cannot_be_read() -> None:
    layer, rec = hooked()
    params = {k: v.detach() for k, v in layer.named_parameters()}

    def loss(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        out, _ = functional_call(layer, p, (x,))
        return out.sum()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: no batching rule for mkldnn_rnn_layer
        vmap(grad(loss), in_dims=(None, 0))(params, torch.randn(5, 2, 6, 3))
    record = rec[layer]
    assert record.out.pattern == "batch token (direction hidden)"  # the names: metadata
    assert "batch=2 token=6" in bh.describe(record)
    for read in (record.check, record.final, record.unroll):
        with pytest.raises(ValueError, match=r"ran inside torch\.func\.vmap"):
            read()


def test_a_call_recorded_under_grad_alone_is_readable() -> None:
    layer, rec = hooked(bidirectional=True)
    params = {k: v.detach() for k, v in layer.named_parameters()}

    def loss(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        out, _ = functional_call(layer, p, (x,))
        return out.sum()

    grad(loss)(params, torch.randn(2, 6, 3))
    rec[layer].check()
    assert rec[layer].final().shape == (2, 8)
