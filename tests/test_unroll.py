"""Record.unroll(): the replay against torch's equations and against the fused call.

`reference()` is written from torch's documentation for nn.LSTM, nn.GRU and nn.RNN and
uses nothing of bilstm_hooks: one sequence at a time, one token at a time, in float64,
each gate by its own weight block, the backward direction over the reversed valid
tokens. The replay is held against it and against the fused call (`check()`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh
from bilstm_hooks._base.tolerance import REPLAY as TOLERANCE

# -- the reference: torch's docs, step by step --------------------------------------------


def _param(layer: nn.Module, name: str, k: int, d: int) -> torch.Tensor | None:
    value = getattr(layer, f"{name}_l{k}" + ("_reverse" if d else ""), None)
    return None if value is None else value.detach().double()


Step = tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]


def _step(
    cfg: Any, layer: nn.Module, k: int, d: int, x: torch.Tensor, h: torch.Tensor, c: Any
) -> Step:
    """One step of layer `k`, direction `d`: h_t, c_t and the activated gates."""
    H = cfg.hidden
    w_ih, w_hh = _param(layer, "weight_ih", k, d), _param(layer, "weight_hh", k, d)
    b_ih, b_hh = _param(layer, "bias_ih", k, d), _param(layer, "bias_hh", k, d)
    assert w_ih is not None
    assert w_hh is not None
    assert b_ih is not None
    assert b_hh is not None

    def block(w: torch.Tensor, b: torch.Tensor, i: int, v: torch.Tensor) -> torch.Tensor:
        return w[i * H : (i + 1) * H] @ v + b[i * H : (i + 1) * H]

    if cfg.kind == "LSTM":
        assert c is not None
        i = torch.sigmoid(block(w_ih, b_ih, 0, x) + block(w_hh, b_hh, 0, h))
        f = torch.sigmoid(block(w_ih, b_ih, 1, x) + block(w_hh, b_hh, 1, h))
        g = torch.tanh(block(w_ih, b_ih, 2, x) + block(w_hh, b_hh, 2, h))
        o = torch.sigmoid(block(w_ih, b_ih, 3, x) + block(w_hh, b_hh, 3, h))
        c = f * c + i * g
        h = o * torch.tanh(c)
        w_hr = _param(layer, "weight_hr", k, d)
        if w_hr is not None:
            h = w_hr @ h
        return h, c, [i, f, g, o]
    if cfg.kind == "GRU":
        r = torch.sigmoid(block(w_ih, b_ih, 0, x) + block(w_hh, b_hh, 0, h))
        z = torch.sigmoid(block(w_ih, b_ih, 1, x) + block(w_hh, b_hh, 1, h))
        n = torch.tanh(block(w_ih, b_ih, 2, x) + r * block(w_hh, b_hh, 2, h))
        return (1 - z) * n + z * h, None, [r, z, n]
    pre = block(w_ih, b_ih, 0, x) + block(w_hh, b_hh, 0, h)
    return (torch.tanh(pre) if cfg.kind == "RNN_TANH" else torch.relu(pre)), None, []


def reference(case: Any) -> dict[str, list[Any]]:
    """Per layer, direction and sequence: h, c and gates at each valid token (float64)."""
    cfg, layer = case.cfg, case.layer
    hx = case.inputs.hx
    h_0, c_0 = (hx if isinstance(hx, tuple) else (hx, None)) if hx is not None else (None, None)
    found: dict[str, list[Any]] = {"h": [], "c": [], "gates": []}
    for b, n in enumerate(cfg.valid_lengths):
        inputs = [case.inputs.x[b, t].detach().double() for t in range(n)]
        per_seq: dict[str, list[Any]] = {"h": [], "c": [], "gates": []}
        for k in range(cfg.layers):
            outs = []
            for d in range(cfg.directions):
                row = k * cfg.directions + d
                h = torch.zeros(cfg.h_out, dtype=torch.float64)
                c = torch.zeros(cfg.hidden, dtype=torch.float64) if cfg.kind == "LSTM" else None
                if h_0 is not None:
                    h = (h_0[row, b] if cfg.batched else h_0[row]).detach().double()
                if c_0 is not None:
                    c = (c_0[row, b] if cfg.batched else c_0[row]).detach().double()
                hs, cs, gs = [None] * n, [None] * n, [None] * n
                for t in range(n) if d == 0 else reversed(range(n)):
                    h, c, gates = _step(cfg, layer, k, d, inputs[t], h, c)
                    hs[t], cs[t], gs[t] = h, c, gates  # type: ignore[call-overload]
                outs.append(hs)
                per_seq["h"].append(torch.stack(hs))  # type: ignore[arg-type]
                if c is not None:
                    per_seq["c"].append(torch.stack(cs))  # type: ignore[arg-type]
                if cfg.kind in ("LSTM", "GRU"):
                    per_seq["gates"].append(torch.stack([torch.stack(g) for g in gs]))  # type: ignore[arg-type]
            inputs = [torch.cat([o[t] for o in outs]) for t in range(n)]  # both directions
        for key in found:
            found[key].append(per_seq[key])
    return found


def assert_agrees_with_reference(case: Any, unrolled: Any) -> None:
    cfg = case.cfg
    ref = reference(case)
    D = cfg.directions
    out = unrolled.out.tensor if cfg.batched else unrolled.out.tensor.unsqueeze(2)
    gates = unrolled.gates
    if gates is not None:
        gates = gates.tensor if cfg.batched else gates.tensor.unsqueeze(3)
    c = unrolled.c
    if c is not None:
        c = c.tensor if cfg.batched else c.tensor.unsqueeze(2)
    mask = unrolled.mask if cfg.batched else unrolled.mask.unsqueeze(0)
    tol = (
        {"rtol": 1e-9, "atol": 1e-9} if out.dtype == torch.float64 else {"rtol": 2e-5, "atol": 2e-5}
    )
    for b, n in enumerate(cfg.valid_lengths):
        assert mask[b].tolist() == [t < n for t in range(out.shape[3])]
        for k in range(cfg.layers):
            for d in range(D):
                where = f"sequence {b}, layer {k}, direction {d}"
                got = out[k, d, b, :n].double()
                torch.testing.assert_close(got, ref["h"][b][k * D + d], **tol, msg=where)
                assert not out[k, d, b, n:].any(), "zeros at padding"
                if c is not None:
                    got_c = c[k, d, b, :n].double()
                    torch.testing.assert_close(got_c, ref["c"][b][k * D + d], **tol, msg=where)
                if gates is not None:
                    got_g = gates[k, d, :, b, :n].transpose(0, 1).double()
                    torch.testing.assert_close(got_g, ref["gates"][b][k * D + d], **tol, msg=where)


def assert_replays(case: Any) -> None:
    """The replay agrees with the reference and with the fused call; or is refused."""
    cfg = case.cfg
    record = case.record
    if cfg.dropout > 0:
        with pytest.raises(ValueError, match=r"ran in train mode with inter-layer dropout=0\.25"):
            record.unroll()
        return
    unrolled = record.unroll(gates=cfg.layers != 2)  # else .gates replays when read
    expected_dtype = cfg.dtype if cfg.dtype == torch.float64 else torch.float32
    assert unrolled.out.tensor.dtype == expected_dtype
    assert unrolled.out.tensor.requires_grad is False
    assert_agrees_with_reference(case, unrolled)
    rtol, atol = TOLERANCE[cfg.dtype]
    assert unrolled.check() <= atol + rtol


# -- over the matrix ----------------------------------------------------------------------


def test_replay_over_the_matrix(layout_config: Any, run: Any) -> None:
    assert_replays(run(layout_config))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_replay_for_drawn_configs(data: st.DataObject, config_strategy: Any, run: Any) -> None:
    assert_replays(run(data.draw(config_strategy, label="config")))


def test_the_given_initial_state_is_used(make_config: Any, run: Any) -> None:
    for kind in ("LSTM", "GRU", "RNN_TANH"):
        cfg = make_config(kind=kind, layers=2, bidirectional=True, form="packed_unsorted")
        with_state = run(replace(cfg, given_state=True))
        without = run(cfg)
        assert with_state.record.h_0 is not None
        replayed = with_state.record.unroll(gates=True)
        assert_agrees_with_reference(with_state, replayed)
        replayed.check()
        plain = without.record.unroll()
        plain.check()
        for k in range(2):  # every layer starts elsewhere, so every layer differs
            assert not torch.allclose(replayed.out.tensor[k], plain.out.tensor[k]), (kind, k)


def test_unroll_changes_nothing_of_the_model_its_grads_or_the_rng(
    make_config: Any, run: Any
) -> None:
    case = run(make_config(layers=2, bidirectional=True, given_state=True), detach=False,
               requires_grad=True)  # fmt: skip
    layer = case.layer
    case.h_n.sum().backward()
    params = {name: p.detach().clone() for name, p in layer.named_parameters()}
    grads = {name: p.grad.clone() for name, p in layer.named_parameters()}
    versions = {name: p._version for name, p in layer.named_parameters()}
    rng, training = torch.get_rng_state(), layer.training
    with torch.enable_grad():
        unrolled = case.record.unroll(gates=True)
        assert torch.is_grad_enabled()
    unrolled.check()
    unrolled.saturation()
    assert not unrolled.out.tensor.requires_grad
    assert unrolled.out.tensor.grad_fn is None
    assert torch.equal(torch.get_rng_state(), rng)
    assert layer.training is training
    for name, p in layer.named_parameters():
        assert torch.equal(p, params[name]), name
        assert torch.equal(p.grad, grads[name]), name
        assert p._version == versions[name], name


def test_a_train_mode_call_with_dropout_is_refused_and_says_what_to_do(
    make_config: Any, run: Any
) -> None:
    case = run(make_config(layers=2, train=True))
    record = case.record
    assert record.trained_with_dropout
    message = (
        r"^cannot unroll this call of <LSTM> \(LSTM, 2 layers, unidirectional, "
        r"batch_first=False\): it ran in train mode with inter-layer dropout=0\.25, whose "
        r"masks were drawn inside the fused kernel and cannot be known\. Call the model in "
        r"eval mode \(model\.eval\(\)\) or with dropout=0, then unroll that call$"
    )
    with pytest.raises(ValueError, match=message):
        record.unroll()
    with pytest.raises(ValueError, match=r"masks were drawn inside the fused kernel"):
        record.diagram(values=True)
    case.layer.eval()  # an eval-mode call of the same layer replays
    case.layer(case.inputs.input)
    case.rec[case.layer].unroll().check()


@pytest.mark.parametrize(
    ("train", "dropout", "layers"), [(True, 0.0, 2), (True, 0.5, 1), (False, 0.5, 2)]
)
def test_train_mode_without_inter_layer_dropout_replays(
    train: bool, dropout: float, layers: int
) -> None:
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="dropout") if layers == 1 and dropout else _nothing():
        gru = nn.GRU(3, 4, num_layers=layers, dropout=dropout).train(train)
    with bh.attach_hooks(gru) as rec:
        gru(torch.randn(5, 2, 3))
    assert not rec[gru].trained_with_dropout
    rec[gru].unroll().check()


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_the_train_mode_kept_with_the_call_decides() -> None:
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    with bh.attach_hooks(gru) as rec:
        gru.eval()(torch.randn(5, 2, 3))
    record = rec[gru]
    gru.train()  # switched since: what counts is the call's mode, where it was kept
    record._training = False
    assert not record.trained_with_dropout
    record.unroll().check()
    record._training = True
    assert record.trained_with_dropout
    # what the hook passes once it keeps the mode: after hx, the call's module.training
    args = (record.layout, record._raw_input, record._raw_out, record._raw_h_n, None, None)
    assert bh.Record(record.name, gru, *args, True).trained_with_dropout
    assert not bh.Record(record.name, gru, *args, False).trained_with_dropout


def test_a_call_in_train_mode_then_switched_to_eval_is_still_refused() -> None:
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    with bh.attach_hooks(gru) as rec:
        gru.train()(torch.randn(5, 2, 3))
    gru.eval()
    assert rec[gru]._training is True  # the mode of the call, kept by the hook
    with pytest.raises(ValueError, match=r"ran in train mode with inter-layer dropout=0\.5"):
        rec[gru].unroll()


def test_check_names_where_the_replay_differs(seq_lstm: nn.LSTM) -> None:
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(2, 6, 3))
    with torch.no_grad():  # changed in place before the record is read: its versions can't tell
        seq_lstm.weight_hh_l1_reverse.add_(0.5)
    unrolled = rec[seq_lstm].unroll()
    message = (
        r"^<LSTM> \(LSTM, 2 layers, bidirectional, batch_first=True\): the replay differs from "
        r"the fused call in out \(layer 1\) at backward direction, token \d, hidden \d, batch "
        r"row \d: replay -?[\d.e-]+, fused -?[\d.e-]+; max \|difference\| [\d.e-]+, above the "
        r"float32 tolerance \(1e-05 \+ 1e-05·\|fused\|\)\. The weights, the input and the "
        r"outputs are the call's as far as their version counters tell; a change that bypasses "
        r"them \(an edit of \.data\) shows here too\. Rounding grows with tokens and layers: "
        r"rtol=/atol= widen the bound\.$"
    )
    with pytest.raises(bh.LayoutError, match=message):
        unrolled.check()
    with torch.no_grad():
        seq_lstm.weight_hh_l0.add_(0.5)
    with pytest.raises(ValueError, match=r"the layer's weights changed since it was unrolled"):
        unrolled.gates  # noqa: B018


def test_check_catches_a_state_that_differs_in_h_n_only(seq_lstm: nn.LSTM) -> None:
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(1, 6, 3))
    record = rec[seq_lstm]
    shift = torch.zeros_like(record._raw_h_n)
    shift[0, 0, 2] = 1e-3  # layer 0 forward: out never shows it
    record._raw_h_n = record._raw_h_n + shift  # a new tensor, not one changed in place
    message = (
        r"in h_n at row 0 \(layer 0 forward, at its last valid token\), hidden 2, batch row 0: "
        r".* max \|difference\| 0\.001"
    )
    with pytest.raises(bh.LayoutError, match=message):
        record.unroll().check()


def test_tolerances_per_dtype() -> None:
    assert TOLERANCE[torch.float32] == (1e-5, 1e-5)
    assert TOLERANCE[torch.float64][0] < 1e-5 > TOLERANCE[torch.float64][1]
    torch.manual_seed(0)
    x = torch.randn(4, 48, 16)
    for dtype, bound in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True).to(dtype)
        with bh.attach_hooks(lstm) as rec:
            lstm(x.to(dtype))
        assert rec[lstm].unroll().check() < bound


def test_float16_and_bfloat16_are_replayed_in_float32(make_config: Any, run: Any) -> None:
    case = run(make_config(kind="GRU", layers=2, bidirectional=True, dtype=torch.bfloat16))
    unrolled = case.record.unroll()
    assert unrolled.out.tensor.dtype == torch.float32
    assert unrolled.check() < 6e-2


def test_no_bias_proj_size_and_relu(make_config: Any) -> None:
    torch.manual_seed(0)
    layers = [
        nn.LSTM(3, 5, num_layers=2, bias=False, bidirectional=True, proj_size=2),
        nn.GRU(3, 4, num_layers=3, bias=False),
        nn.RNN(3, 4, nonlinearity="relu", bias=False, bidirectional=True),
    ]
    for layer in layers:
        with bh.attach_hooks(layer) as rec:
            layer(torch.randn(7, 2, 3))
        assert rec[layer].unroll().check() < 1e-5


def test_axes_names_and_gate_names(make_config: Any, run: Any) -> None:
    lstm = run(make_config(layers=2, bidirectional=True, proj_size=2, form="unbatched")).record
    unrolled = lstm.unroll()
    assert unrolled.out.pattern == "layer direction token hidden"  # unbatched: no batch
    assert unrolled.out.sizes == {"layer": 2, "direction": 2, "token": 5, "hidden": 2}
    assert unrolled.c is not None
    assert unrolled.c.sizes["hidden"] == 4  # hidden_size, not proj_size
    assert unrolled.gates is not None
    assert unrolled.gates.pattern == "layer direction gate token hidden"
    assert unrolled.gate_names == ("input", "forget", "cell", "output")
    assert unrolled.mask.shape == (5,)
    gru = run(make_config(kind="GRU", batch_first=True)).record.unroll(gates=True)
    assert gru.out.pattern == "layer direction batch token hidden"
    assert gru.gate_names == ("reset", "update", "new")
    assert gru.c is None
    assert gru.gates is not None
    assert gru.gates.pattern == "layer direction gate batch token hidden"
    rnn = run(make_config(kind="RNN_RELU")).record.unroll(gates=True)
    assert (rnn.gates, rnn.gate_names, rnn.c) == (None, (), None)
    with pytest.raises(ValueError, match=r"an RNN has no gates, so no gate saturation"):
        rnn.saturation()


def test_gate_values_lie_in_their_ranges(make_config: Any, run: Any) -> None:
    unrolled = run(make_config(layers=2, form="packed_sorted")).record.unroll(gates=True)
    gates = unrolled.gates
    assert gates is not None
    g = gates.tensor
    mask = unrolled.mask
    for i, name in enumerate(unrolled.gate_names):
        valid = g[:, :, i][:, :, mask]
        low = -1 if name == "cell" else 0
        assert bool(((valid > low) & (valid < 1)).all()), name
        assert not g[:, :, i][:, :, ~mask].any(), "zeros at padding"


def test_saturation_counts_valid_steps_only(make_config: Any, run: Any) -> None:
    unrolled = run(make_config(kind="GRU", form="packed_unsorted", tokens=6)).record.unroll()
    saturation = unrolled.saturation()
    gates = unrolled.gates
    assert gates is not None
    mask = unrolled.mask
    for i, name in enumerate(unrolled.gate_names):
        valid = gates.tensor[0, 0, i][mask]  # (valid steps, hidden)
        lo, hi = (-0.8, 0.8) if name == "new" else (0.1, 0.9)
        assert saturation.low.tensor[0, 0, i].item() == pytest.approx(
            (valid < lo).double().mean().item()
        )
        assert saturation.high.tensor[0, 0, i].item() == pytest.approx(
            (valid > hi).double().mean().item()
        )
    assert saturation.low.pattern == "layer direction gate"


def test_a_meta_device_call_cannot_be_unrolled() -> None:
    lstm = nn.LSTM(3, 4, device="meta")
    with bh.attach_hooks(lstm) as rec:
        lstm(torch.randn(5, 2, 3, device="meta"))
    with pytest.raises(ValueError, match=r"ran on the meta device, whose tensors hold no values"):
        rec[lstm].unroll()


def test_a_layer_converted_since_the_call_is_refused() -> None:
    gru = nn.GRU(3, 4)
    with bh.attach_hooks(gru) as rec:
        gru(torch.randn(5, 2, 3))
    gru.double()
    with pytest.raises(ValueError, match=re.escape(
        "the layer's weight_ih_l0 is now float64 on cpu, but the call ran on float32 input "
        "on cpu: the layer was moved or converted since the call")):  # fmt: skip
        rec[gru].unroll()


def test_check_takes_its_own_tolerance(seq_lstm: nn.LSTM) -> None:
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(2, 6, 3))
    with torch.no_grad():
        seq_lstm.weight_ih_l0.add_(1e-4)
    unrolled = rec[seq_lstm].unroll()
    worst = unrolled.check(atol=1e-2)  # within a looser bound
    assert 1e-7 < worst < 1e-2
    with pytest.raises(bh.LayoutError, match=r"above the tolerance given \(1e-09 \+ 0·\|fused\|\)"):
        unrolled.check(rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match=r"expected rtol as a number >= 0, got -1"):
        unrolled.check(rtol=-1)


@pytest.mark.parametrize("gates", ["no", 0, 1, None])
def test_unroll_takes_gates_as_a_bool_only(seq_lstm: nn.LSTM, gates: Any) -> None:
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(2, 6, 3))
    with pytest.raises(
        TypeError, match=rf"^expected gates as a bool, got {re.escape(repr(gates))}$"
    ):
        rec[seq_lstm].unroll(gates=gates)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("x", TypeError),
        (torch.tensor([1.0, 2.0]), TypeError),  # was torch's "Boolean value of Tensor ..."
        (True, TypeError),  # a bool is not a number
        (1j, TypeError),
        (torch.tensor(True), TypeError),
        (-1, ValueError),
        (float("nan"), ValueError),
        (torch.tensor(-1.0), ValueError),
    ],
    ids=["str", "tensor", "bool", "complex", "bool-tensor", "negative", "nan", "negative-tensor"],
)
@pytest.mark.parametrize("name", ["rtol", "atol"])
def test_check_takes_tolerances_as_numbers_from_0(
    seq_lstm: nn.LSTM, name: str, value: Any, error: type
) -> None:
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(2, 6, 3))
    unrolled = rec[seq_lstm].unroll()
    expected = re.escape(f"expected {name} as a number >= 0, got {value!r}")
    with pytest.raises(error, match=f"^{expected}$"):
        unrolled.check(**{name: value})


def test_check_accepts_ints_floats_numpy_and_0_d_tensors(seq_lstm: nn.LSTM) -> None:
    """A 0-d real tensor is accepted (as before): a tolerance computed with torch, say
    `torch.finfo(dtype).eps * 10` of a tensor, or a statistic of a tensor, is one."""
    with bh.attach_hooks(seq_lstm) as rec:
        seq_lstm(torch.randn(2, 6, 3))
    unrolled = rec[seq_lstm].unroll()
    for value in (1, 1e-3, float("inf"), np.float32(1e-3), np.int64(1), torch.tensor(1e-3)):
        assert unrolled.check(atol=value) < 1e-5
        assert unrolled.check(rtol=value) < 1e-5
    assert unrolled.check(rtol=0) < 1e-5


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_a_call_on_a_batch_of_0_unrolls_checks_and_draws(kind: str, batch_first: bool) -> None:
    """Nothing to compare: check() is 0.0 (was torch's reshape error); nothing to plot: a
    ValueError that says so (was "expected sequence as an int in 0..-1")."""
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    with bh.attach_hooks(layer) as rec:
        layer(torch.randn(0, 5, 3) if batch_first else torch.randn(5, 0, 3))
    record = rec[layer]
    record.check()
    unrolled = record.unroll(gates=True)
    assert unrolled.out.sizes == {"layer": 2, "direction": 2, "batch": 0, "token": 5, "hidden": 4}
    assert unrolled.mask.shape == (0, 5)
    assert unrolled.check() == 0.0
    assert unrolled.check(rtol=0, atol=0) == 0.0
    assert "Unrolled" in repr(unrolled)
    assert "<svg" in unrolled._repr_html_()
    if kind != "RNN":
        saturation = unrolled.saturation()
        assert saturation.low.tensor.isnan().all()  # no valid step: shown as "-"
        assert "-" in repr(saturation)
        assert "<table" in saturation._repr_html_()
    with pytest.raises(
        ValueError, match=r"^cannot plot .*: the call had a batch of 0 sequences, none to plot$"
    ):
        unrolled.plot()
    for values in (False, True):
        ET.fromstring(record.diagram(values=values).svg)
    assert "<svg" in record._repr_html_()


def test_saturation_says_how_many_valid_steps_held_nan_gates() -> None:
    """NaN is neither below nor above a bound: such steps count in neither share, and the
    table says how many there were (it did not)."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(3, 6, 3)
    x[0, 3, 1] = float("nan")  # sequence 0 from token 3 on (forward), up to it (backward)
    lengths = torch.tensor([6, 4, 2])
    with bh.attach_hooks(lstm) as rec:
        lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    unrolled = rec[lstm].unroll(gates=True)
    saturation = unrolled.saturation()
    gates = unrolled.gates
    assert gates is not None
    nan_at = gates.tensor.isnan().any(2).any(-1) & unrolled.mask  # layer direction batch token
    steps = 2 * 2 * int(lengths.sum())
    # layer 0: 3 forward steps, 4 backward; layer 1 sees a NaN half at every token
    assert int(nan_at.sum()) == 3 + 4 + 6 + 6
    assert (saturation.nan_steps, saturation.steps) == (19, steps)
    note = (
        f"NaN in the gates at 19 of {steps} valid steps (counting each layer and direction): "
        "in neither share"
    )
    assert repr(saturation).splitlines()[-1] == note
    assert note in saturation._repr_html_()
    for i, name in enumerate(unrolled.gate_names):  # the shares are over every valid step
        valid = gates.tensor[:, :, i].permute(2, 3, 0, 1, 4)[unrolled.mask]
        lo, hi = (-0.8, 0.8) if name == "cell" else (0.1, 0.9)
        low = (valid < lo).sum((0, 3)) / (valid.shape[0] * valid.shape[3])
        high = (valid > hi).sum((0, 3)) / (valid.shape[0] * valid.shape[3])
        assert torch.allclose(saturation.low.tensor[:, :, i], low.float())
        assert torch.allclose(saturation.high.tensor[:, :, i], high.float())
    with bh.attach_hooks(lstm) as rec:
        lstm(torch.randn(3, 6, 3))
    plain = rec[lstm].unroll().saturation()
    assert (plain.nan_steps, plain.steps) == (0, 2 * 2 * 18)
    assert "NaN" not in repr(plain) + plain._repr_html_()
