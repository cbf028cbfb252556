"""The layout identities, read straight from what the layer returned, are the oracle.

Nothing in `oracle_*` uses bilstm_hooks: it pads with torch, indexes by hand and, for
the row order of h_n, rebuilds a multi-layer call from single-layer ones. The library's
annotations, Record.final()/check() and the plain-tensor helpers are held against it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

# -- the oracle: plain torch on the raw tensors ---------------------------------------


def oracle_padded(case: Any) -> tuple[torch.Tensor, list[int]]:
    """`out` as (batch, token, direction*H_out) and each row's valid length."""
    out = case.out
    if isinstance(out, PackedSequence):
        padded, lengths = pad_packed_sequence(out, batch_first=True)
        return padded, lengths.tolist()
    if out.dim() == 2:  # unbatched: token (direction hidden)
        return out.unsqueeze(0), [out.shape[0]]
    padded = out if case.cfg.batch_first else out.transpose(0, 1)
    return padded, [padded.shape[1]] * padded.shape[0]


def oracle_out_in_layout(case: Any) -> torch.Tensor:
    """`out` as the library should annotate it: padded, in the layer's batch_first."""
    if isinstance(case.out, PackedSequence):
        return pad_packed_sequence(case.out, batch_first=case.cfg.batch_first)[0]
    return case.out


def oracle_final(case: Any) -> torch.Tensor:
    """Per sequence: forward half of out at its last valid token, backward half at token 0.

    Also asserts the identities themselves on the raw tensors: those halves are the
    last layer's forward and backward rows of h_n, which are h_n[-2] and h_n[-1].
    """
    cfg = case.cfg
    padded, lengths = oracle_padded(case)
    h, d_count, last = cfg.h_out, cfg.directions, cfg.layers - 1
    h_n = case.h_n if cfg.batched else case.h_n.unsqueeze(1)
    assert h_n.shape == (cfg.layers * d_count, len(lengths), h)
    rows = []
    for b, n in enumerate(lengths):
        halves = [padded[b, n - 1, :h]]
        assert torch.equal(halves[0], h_n[last * d_count, b]), "forward identity (raw tensors)"
        if cfg.bidirectional:
            halves.append(padded[b, 0, h : 2 * h])
            assert torch.equal(halves[1], h_n[last * 2 + 1, b]), "backward identity (raw tensors)"
        rows.append(torch.cat(halves))
    final = torch.stack(rows)
    top = torch.cat([h_n[-2], h_n[-1]], dim=-1) if cfg.bidirectional else h_n[-1]
    assert torch.equal(final, top), "cat(h_n[-2], h_n[-1]) is the sequence representation"
    return final if cfg.batched else final[0]


def oracle_stacked_h_n(case: Any) -> torch.Tensor:
    """h_n rebuilt from single-layer copies of the layer, concatenated layer by layer.

    If h_n is layer-major and direction-minor, this equals h_n row for row.
    """
    cfg, layer = case.cfg, case.layer
    rows, c_rows = [], []
    input = case.inputs.input
    per_layer = cfg.directions
    for k in range(cfg.layers):
        in_size = cfg.features if k == 0 else cfg.directions * cfg.h_out
        options: dict[str, Any] = {"bidirectional": cfg.bidirectional}
        options["batch_first"] = cfg.batch_first
        if cfg.kind == "LSTM":
            options["proj_size"] = cfg.proj_size
        if cfg.module_kind == "RNN":
            options["nonlinearity"] = layer.nonlinearity
        single = type(layer)(in_size, cfg.hidden, **options).to(cfg.dtype).train(cfg.train)
        with torch.no_grad():
            for name, param in single.named_parameters():
                param.copy_(getattr(layer, name.replace("_l0", f"_l{k}")))
        hx = case.inputs.hx
        if isinstance(hx, tuple):
            hx = tuple(t[k * per_layer : (k + 1) * per_layer] for t in hx)
        elif hx is not None:
            hx = hx[k * per_layer : (k + 1) * per_layer]
        with cfg.grad_context():  # the same kernels as the call under test
            input, state = single(input) if hx is None else single(input, hx)
        h, c = state if cfg.kind == "LSTM" else (state, None)
        rows.append(h)
        c_rows.append(c)
    stacked = torch.cat(rows)
    if cfg.kind == "LSTM":
        # c_n rows: layer-major, direction-minor (another call: equal up to rounding)
        torch.testing.assert_close(torch.cat(c_rows), case.c_n)
    return stacked


# -- what the library must say ----------------------------------------------------------


def expected_patterns(cfg: Any) -> dict[str, str]:
    lead = "batch token" if cfg.batch_first else "token batch"
    lead = lead if cfg.batched else "token"
    state = "(layer direction) batch hidden" if cfg.batched else "(layer direction) hidden"
    return {
        "input": f"{lead} feature",
        "out": f"{lead} (direction hidden)",
        "h_n": state,
        "c_n": state,
    }


def unpacked(pattern: str) -> tuple[str, ...]:
    return tuple(re.sub(r"[()]", " ", pattern).split())


def assert_library_agrees(case: Any) -> None:
    cfg, layer = case.cfg, case.layer
    final = oracle_final(case)
    record = case.record
    big_h, d_count, layers = cfg.h_out, cfg.directions, cfg.layers
    tokens, batch = cfg.padded_tokens, cfg.batch
    batch_sizes = {"batch": batch} if cfg.batched else {}
    patterns = expected_patterns(cfg)

    # record identity
    assert (record.name, record.module, record.kind) == ("", layer, cfg.module_kind)

    # out: pattern, dims, sizes, shape, values
    out_layout = oracle_out_in_layout(case)
    assert record.out.pattern == patterns["out"]
    assert record.out.dims == unpacked(patterns["out"])
    assert record.out.sizes == {
        **batch_sizes,
        "token": tokens,
        "direction": d_count,
        "hidden": big_h,
    }
    if not cfg.batched:
        assert tuple(record.out.tensor.shape) == (tokens, d_count * big_h)
    elif cfg.batch_first:
        assert tuple(record.out.tensor.shape) == (batch, tokens, d_count * big_h)
    else:
        assert tuple(record.out.tensor.shape) == (tokens, batch, d_count * big_h)
    assert torch.equal(record.out.tensor, out_layout)

    # input
    assert record.input.pattern == patterns["input"]
    assert record.input.sizes == {**batch_sizes, "token": tokens, "feature": cfg.features}

    # h_n: batch_first never applies; H_out is proj_size when set
    lead = (layers * d_count, batch) if cfg.batched else (layers * d_count,)
    assert case.h_n.shape == (*lead, big_h)
    assert record.h_n.pattern == patterns["h_n"]
    assert record.h_n.dims == unpacked(patterns["h_n"])
    assert record.h_n.sizes == {
        "layer": layers,
        "direction": d_count,
        **batch_sizes,
        "hidden": big_h,
    }
    assert tuple(record.h_n.tensor.shape) == (*lead, big_h)
    assert torch.equal(record.h_n.tensor, case.h_n)

    # c_n: LSTM only, always hidden_size
    if cfg.kind == "LSTM":
        assert case.c_n.shape == (*lead, cfg.hidden)
        assert record.c_n.pattern == patterns["c_n"]
        assert record.c_n.sizes == {
            "layer": layers,
            "direction": d_count,
            **batch_sizes,
            "hidden": cfg.hidden,
        }
        assert torch.equal(record.c_n.tensor, case.c_n)
    else:
        assert record.c_n is None

    # lengths: per sequence, in the caller's batch order
    if cfg.packed:
        assert record.lengths.dim() == 1
        assert not record.lengths.is_floating_point()
        assert record.lengths.tolist() == list(cfg.lengths)
    else:
        assert record.lengths is None

    # final() and check()
    assert record.final().dtype == cfg.dtype
    assert torch.equal(record.final(), final)
    assert record.check() is None

    # plain-tensor helpers, sizes from the module and given explicitly
    assert torch.equal(bh.last_outputs(case.out, module=layer), final)
    if cfg.packed:
        explicit = bh.last_outputs(
            out_layout, cfg.lengths, batch_first=cfg.batch_first, directions=d_count
        )
        assert torch.equal(explicit, final)
        assert torch.equal(bh.last_outputs(case.out, cfg.lengths, module=layer), final)
    elif cfg.batched:
        explicit = bh.last_outputs(case.out, batch_first=cfg.batch_first, directions=d_count)
        assert torch.equal(explicit, final)
    else:
        assert torch.equal(bh.last_outputs(case.out, directions=d_count), final)
    assert torch.equal(bh.final_representation(case.h_n, module=layer), final)
    explicit = bh.final_representation(case.h_n, layers=layers, directions=d_count)
    assert torch.equal(explicit, final)

    states = [case.h_n] + ([case.c_n] if cfg.kind == "LSTM" else [])
    for state in states:
        split = bh.split_layers(state, module=layer)
        assert split.shape == (layers, d_count, *state.shape[1:])
        for k in range(layers):
            for d in range(d_count):
                assert torch.equal(split[k, d], state[k * d_count + d])
        assert split.data_ptr() == state.data_ptr()  # a view
        assert torch.equal(bh.split_layers(state, layers=layers, directions=d_count), split)

    raw = case.out.data if isinstance(case.out, PackedSequence) else case.out
    halves = bh.split_directions(case.out, module=layer)
    assert len(halves) == d_count
    for d, half in enumerate(halves):
        assert torch.equal(half, raw[..., d * big_h : (d + 1) * big_h])
        assert half.data_ptr() == raw[..., d * big_h :].data_ptr()  # a view
    annotated = record.out.split_directions()
    assert len(annotated) == d_count
    for d, half in enumerate(annotated):
        assert half.pattern == patterns["out"].replace("(direction hidden)", "hidden")
        assert torch.equal(half.tensor, out_layout[..., d * big_h : (d + 1) * big_h])

    # h_n rows are layer-major, direction-minor (needs no dropout between layers)
    if cfg.dropout == 0:
        # equal up to rounding (single-layer calls may take other kernels)
        torch.testing.assert_close(oracle_stacked_h_n(case), case.h_n)


def test_identities_over_the_matrix(layout_config: Any, run: Any) -> None:
    assert_library_agrees(run(layout_config))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_identities_for_drawn_configs(data: st.DataObject, config_strategy: Any, run: Any) -> None:
    assert_library_agrees(run(data.draw(config_strategy, label="config")))


def test_matrix_covers_every_axis(layout_matrix: list[Any]) -> None:
    """Guard the matrix itself: if a refactor drops an axis value, this says so."""
    seen: dict[str, set[Any]] = {}
    for cfg in layout_matrix:
        for axis in ("kind", "layers", "bidirectional", "batch_first", "form", "given_state"):
            seen.setdefault(axis, set()).add(getattr(cfg, axis))
        seen.setdefault("dtype", set()).add(cfg.dtype)
        seen.setdefault("grad_mode", set()).add(cfg.grad_mode)
        seen.setdefault("proj", set()).add((cfg.kind, cfg.proj_size > 0))
        seen.setdefault("dropout", set()).add(cfg.dropout > 0)
        # the layout-shaping axes appear in every combination
        shape = (cfg.kind, cfg.proj_size, cfg.layers, cfg.bidirectional, cfg.batch_first)
        seen.setdefault("structure", set()).add((*shape, cfg.form))
    assert seen["kind"] == {"LSTM", "GRU", "RNN_TANH", "RNN_RELU"}
    assert seen["layers"] == {1, 2, 3}
    assert seen["bidirectional"] == seen["batch_first"] == seen["given_state"] == {False, True}
    assert seen["form"] == {"batched", "unbatched", "packed_sorted", "packed_unsorted"}
    assert seen["dtype"] == {torch.float32, torch.float64, torch.bfloat16}
    assert seen["grad_mode"] == {"grad", "no_grad", "inference_mode"}
    assert ("LSTM", True) in seen["proj"]
    assert {("GRU", True), ("RNN_TANH", True), ("RNN_RELU", True)}.isdisjoint(seen["proj"])
    assert seen["dropout"] == {False, True}
    assert len(seen["structure"]) == 5 * 3 * 2 * 2 * 4


# -- the classic bug ----------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False], ids=["bi", "uni"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tf"])
def test_last_column_of_padded_out_is_wrong_for_packed_batches(
    make_config: Any, run: Any, bidirectional: bool, batch_first: bool
) -> None:
    cfg = make_config(
        layers=2, bidirectional=bidirectional, batch_first=batch_first, form="packed_unsorted"
    )
    assert len(set(cfg.lengths)) > 1
    case = run(cfg)
    padded, _ = pad_packed_sequence(case.out, batch_first=True)
    naive = padded[:, -1]  # what users write
    final = case.record.final()
    big_h, tokens = cfg.h_out, cfg.padded_tokens

    assert not torch.equal(naive, final)
    for b, n in enumerate(cfg.lengths):
        # the forward half is right only for full-length rows; padded rows read zeros
        assert torch.equal(naive[b, :big_h], final[b, :big_h]) == (n == tokens)
        if n < tokens:
            assert not naive[b, :big_h].any()
        if bidirectional:  # the backward half is wrong for every row
            assert not torch.equal(naive[b, big_h:], final[b, big_h:])

    assert torch.equal(bh.last_outputs(case.out, module=case.layer), final)
    out_layout = oracle_out_in_layout(case)
    assert torch.equal(bh.last_outputs(out_layout, cfg.lengths, module=case.layer), final)
    assert torch.equal(oracle_final(case), final)


# -- check() on broken records -------------------------------------------------------------


class TamperedLSTM(nn.LSTM):
    """An LSTM whose forward hands back clones with one layout identity broken.

    The public route to a corrupt record, as from a subclass that computes its outputs
    itself: its forward runs an unhooked twin (not a submodule), so the hook records
    what this layer returns, and no private state of Record is touched. (A subclass
    calling `super().forward` is recorded as the parent ran: tests/test_entrance.py.)
    """

    def __init__(self, *args: Any, tamper: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tamper = tamper
        self.__dict__["twin"] = nn.LSTM(*args, **kwargs)  # not a submodule: never hooked
        self.twin.load_state_dict(self.state_dict())

    def forward(self, input: Any, hx: Any = None) -> Any:
        out, (h_n, c_n) = self.twin(input, hx)
        padded = out
        if isinstance(out, PackedSequence):
            padded, lengths = pad_packed_sequence(out, batch_first=self.batch_first)
        padded, h_n, c_n = self.tamper(padded.clone(), h_n.clone(), c_n.clone())
        if isinstance(out, PackedSequence):
            padded = pack_padded_sequence(
                padded, lengths, batch_first=self.batch_first, enforce_sorted=False
            )
        return padded, (h_n, c_n)


def bump_h_n(row: int, batch_row: int) -> Any:
    def tamper(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
        h_n[row, batch_row] += 1
        return out, h_n, c_n

    return tamper


def bump_backward_at_token_0(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
    out[:, 0, 4:] += 1  # batch first
    return out, h_n, c_n


def direction_major_h_n(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
    # rows l0f, l1f, l0b, l1b instead of l0f, l0b, l1f, l1b
    return out, h_n.view(2, 2, *h_n.shape[1:]).transpose(0, 1).reshape(h_n.shape), c_n


def batch_first_h_n(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
    return out, h_n.transpose(0, 1), c_n


def forward_half_only(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
    return out[..., :4], h_n, c_n


def two_rows_of_c_n(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
    return out, h_n, c_n[:2]


WHERE = r"<TamperedLSTM> \(LSTM, 2 layers, bidirectional, batch_first=True\): "
SIZES = (
    r"\n  out: batch=3 token=5 \(direction=2 hidden=4\)"
    r"\n  h_n: \(layer=2 direction=2\) batch=3 hidden=4"
)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param(
            bump_h_n(2, 1),
            WHERE + r"the forward half of out at the last valid token differs from h_n\[2\] "
            r"\(layer 1, forward\) in batch rows \[1\]; max \|difference\| [0-9.e-]+\." + SIZES,
            id="h_n-last-layer-forward-row",
        ),
        pytest.param(
            bump_h_n(3, 0),
            WHERE + r"the backward half of out at token 0 differs from h_n\[3\] "
            r"\(layer 1, backward\) in batch rows \[0\]",
            id="h_n-last-layer-backward-row",
        ),
        pytest.param(
            bump_backward_at_token_0,
            WHERE + r"the backward half of out at token 0 differs from h_n\[3\] "
            r"\(layer 1, backward\) in batch rows \[0, 1, 2\]",
            id="out-backward-half-at-token-0",
        ),
        pytest.param(
            direction_major_h_n,
            WHERE + r"the forward half of out at the last valid token differs from h_n\[2\] "
            r"\(layer 1, forward\) in batch rows \[0, 1, 2\]",
            id="h_n-direction-major",
        ),
        pytest.param(
            batch_first_h_n,
            WHERE + r"h_n should be \(layer direction\) batch hidden = \(\(2 2\), 3, 4\), "
            r"got shape \(3, 4, 4\)$",
            id="h_n-batch-first",
        ),
        pytest.param(
            forward_half_only,
            WHERE + r"out should be batch token \(direction hidden\) = \(3, 5, \(2 4\)\), "
            r"got shape \(3, 5, 4\)$",
            id="out-wrong-shape",
        ),
        pytest.param(
            two_rows_of_c_n,
            WHERE + r"c_n should be \(layer direction\) batch hidden = \(\(2 2\), 3, 4\), "
            r"got shape \(2, 3, 4\)$",
            id="c_n-wrong-shape",
        ),
    ],
)
def test_check_raises_layout_error_on_tampered_calls(tamper: Any, message: str) -> None:
    torch.manual_seed(0)
    layer = TamperedLSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, tamper=tamper)
    with bh.attach_hooks(layer) as rec:
        layer(torch.randn(3, 5, 3))
    with pytest.raises(bh.LayoutError, match=f"^{message}"):
        rec[layer].check()


def test_check_passes_on_an_untampered_subclass() -> None:
    """The control for the tampered cases: the subclass itself breaks nothing."""
    torch.manual_seed(0)
    layer = TamperedLSTM(
        3, 4, num_layers=2, bidirectional=True, batch_first=True, tamper=lambda *t: t
    )
    with bh.attach_hooks(layer) as rec:
        layer(torch.randn(3, 5, 3))
    assert rec[layer].kind == "LSTM"
    assert rec[layer].check() is None


def test_check_names_the_rows_and_lengths_of_a_packed_batch() -> None:
    torch.manual_seed(0)
    layer = TamperedLSTM(3, 4, bidirectional=True, batch_first=True, tamper=bump_h_n(0, 2))
    packed = pack_padded_sequence(
        torch.randn(3, 5, 3), [2, 5, 4], batch_first=True, enforce_sorted=False
    )
    with bh.attach_hooks(nn.ModuleDict({"encoder": layer})) as rec:
        layer(packed)
    message = (
        r"^'encoder' \(LSTM, 1 layer, bidirectional, batch_first=True, packed\): the forward "
        r"half of out "
        r"at the last valid token differs from h_n\[0\] \(layer 0, forward\) in batch rows \[2\];"
        r" max \|difference\| [0-9.e-]+\.\n"
        r"  out: batch=3 token=5 \(direction=2 hidden=4\)\n"
        r"  h_n: \(layer=1 direction=2\) batch=3 hidden=4\n"
        r"  lengths: \[2, 5, 4\]$"
    )
    with pytest.raises(bh.LayoutError, match=message):
        rec["encoder"].check()


def test_check_of_an_unbatched_call_names_no_batch_rows() -> None:
    torch.manual_seed(0)

    def bump(out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor) -> Any:
        h_n[0] += 1
        return out, h_n, c_n

    layer = TamperedLSTM(3, 4, tamper=bump)
    with bh.attach_hooks(layer) as rec:
        layer(torch.randn(5, 3))
    message = (
        r"^<TamperedLSTM> \(LSTM, 1 layer, unidirectional, batch_first=False, unbatched\): "
        r"the forward "
        r"half of out at the last valid token differs from h_n\[0\] \(layer 0, forward\); "
        r"max \|difference\| [0-9.e-]+\.\n"
        r"  out: token=5 \(direction=1 hidden=4\)\n"
        r"  h_n: \(layer=1 direction=1\) hidden=4$"
    )
    with pytest.raises(bh.LayoutError, match=message):
        rec[layer].check()


def test_layout_error_is_a_runtime_error() -> None:
    assert issubclass(bh.LayoutError, RuntimeError)
