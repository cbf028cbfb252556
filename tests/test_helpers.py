"""The plain-tensor helpers: results on hand-built layouts, and every error path.

The layout identities themselves are covered over the whole matrix in test_layout.py;
here the helpers meet tensors whose values say where they came from.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh


def labelled_h_n(layers: int, directions: int, batch: int, hidden: int) -> torch.Tensor:
    """h_n whose every element is 1000*layer + 100*direction + 10*batch + unit."""
    h_n = torch.empty(layers * directions, batch, hidden)
    for k in range(layers):
        for d in range(directions):
            for b in range(batch):
                h_n[k * directions + d, b] = 1000 * k + 100 * d + 10 * b + torch.arange(hidden)
    return h_n


def labelled_out(batch: int, tokens: int, directions: int, hidden: int) -> torch.Tensor:
    """Batch-first out whose every element is 1000*batch + 100*token + 10*direction + unit."""
    out = torch.empty(batch, tokens, directions * hidden)
    for b in range(batch):
        for t in range(tokens):
            for d in range(directions):
                out[b, t, d * hidden : (d + 1) * hidden] = (
                    1000 * b + 100 * t + 10 * d + torch.arange(hidden)
                )
    return out


@pytest.fixture
def bi_lstm() -> nn.LSTM:
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)


# -- results ---------------------------------------------------------------------------------


def test_split_layers_reads_rows_layer_major() -> None:
    h_n = labelled_h_n(3, 2, 2, 4)
    split = bh.split_layers(h_n, layers=3, directions=2)
    assert split.shape == (3, 2, 2, 4)
    for k in range(3):
        for d in range(2):
            assert split[k, d, 1, 0] == 1000 * k + 100 * d + 10
    assert split._base is h_n or split.data_ptr() == h_n.data_ptr()


def test_split_layers_of_an_unbatched_h_n() -> None:
    h_n = labelled_h_n(2, 2, 1, 4)[:, 0]
    split = bh.split_layers(h_n, layers=2, directions=2)
    assert split.shape == (2, 2, 4)
    assert split[1, 1, 3] == 1103


def test_final_representation_is_last_layer_directions_joined() -> None:
    h_n = labelled_h_n(2, 2, 3, 4)
    final = bh.final_representation(h_n, layers=2, directions=2)
    assert torch.equal(final, torch.cat([h_n[-2], h_n[-1]], dim=-1))
    assert final[2].tolist() == [1020, 1021, 1022, 1023, 1120, 1121, 1122, 1123]
    uni = bh.final_representation(labelled_h_n(3, 1, 2, 4), layers=3, directions=1)
    assert uni[1].tolist() == [2010, 2011, 2012, 2013]


def test_last_outputs_takes_forward_at_last_valid_token_and_backward_at_token_0() -> None:
    out = labelled_out(3, 5, 2, 2)
    got = bh.last_outputs(out, [2, 5, 1], batch_first=True, directions=2)
    assert got.tolist() == [
        [100, 101, 10, 11],  # batch 0: forward at token 1, backward at token 0
        [1400, 1401, 1010, 1011],  # batch 1: token 4
        [2000, 2001, 2010, 2011],  # batch 2: token 0
    ]
    full = bh.last_outputs(out, batch_first=True, directions=2)
    assert full[:, 0].tolist() == [400, 1400, 2400]
    time_first = bh.last_outputs(
        out.transpose(0, 1), torch.tensor([2, 5, 1]), module=None, batch_first=False, directions=2
    )
    assert torch.equal(time_first, got)
    unbatched = bh.last_outputs(out[1], directions=2)
    assert unbatched.tolist() == [1400, 1401, 1010, 1011]


def test_last_outputs_of_a_packed_out_reads_its_lengths() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(2, 3, bidirectional=True)
    packed = pack_padded_sequence(torch.randn(4, 3, 2), [3, 4, 1], enforce_sorted=False)
    out, h_n = gru(packed)
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    assert torch.equal(bh.last_outputs(out, directions=2), final)
    assert torch.equal(
        bh.last_outputs(out, torch.tensor([3, 4, 1], dtype=torch.int32), module=gru), final
    )


def test_split_directions_of_any_leading_axes() -> None:
    out = labelled_out(2, 3, 2, 4)
    fwd, bwd = bh.split_directions(out, directions=2)
    assert fwd.shape == bwd.shape == (2, 3, 4)
    assert fwd[1, 2].tolist() == [1200, 1201, 1202, 1203]
    assert bwd[1, 2].tolist() == [1210, 1211, 1212, 1213]
    assert bwd.data_ptr() == out[..., 4:].data_ptr()
    (only,) = bh.split_directions(out, directions=1)
    assert torch.equal(only, out)
    fwd0, _ = bh.split_directions(out[0, 0], directions=2, hidden=4)  # 1-D
    assert fwd0.tolist() == [0, 1, 2, 3]


def test_helpers_read_sizes_from_the_module(bi_lstm: nn.LSTM) -> None:
    out, (h_n, c_n) = bi_lstm(torch.randn(2, 5, 3))
    assert len(bh.split_directions(out, module=bi_lstm)) == 2
    assert bh.split_layers(c_n, module=bi_lstm).shape == (2, 2, 2, 4)
    # explicit sizes that agree with the module are fine
    assert bh.split_layers(h_n, module=bi_lstm, layers=2, directions=2).shape == (2, 2, 2, 4)
    assert torch.equal(
        bh.last_outputs(out, module=bi_lstm, batch_first=True, directions=2),
        bh.final_representation(h_n, module=bi_lstm),
    )


# -- errors ---------------------------------------------------------------------------------------


SPLIT_DIRECTIONS_ERRORS = [
    (
        "already-split",
        lambda out, m: bh.split_directions(out[..., :4], module=m),
        ValueError,
        r"^cannot split directions: expected \.\.\. \(direction hidden\) = \(\.\.\., \(2 4\)\), "
        r"got shape \(2, 5, 4\)\. Was the tensor already split\?$",
    ),
    (
        "wrong-hidden",
        lambda out, m: bh.split_directions(out, directions=2, hidden=3),
        ValueError,
        r"^cannot split directions: expected \.\.\. \(direction hidden\) = \(\.\.\., \(2 3\)\), "
        r"got shape \(2, 5, 8\)\.$",
    ),
    (
        "odd-width",
        lambda out, m: bh.split_directions(out[..., :7], directions=2),
        ValueError,
        r"= \(\.\.\., \(2 \?\)\), got shape \(2, 5, 7\)\.$",
    ),
    (
        "scalar",
        lambda out, m: bh.split_directions(out.sum(), directions=2),
        ValueError,
        r"got shape \(\)",
    ),
    (
        "no-sizes",
        lambda out, m: bh.split_directions(out),
        TypeError,
        r"^split_directions needs to know directions: expected module=<the recurrent layer> "
        r"or directions=\.\.\., got neither$",
    ),
    (
        "disagrees",
        lambda out, m: bh.split_directions(out, module=m, directions=1),
        ValueError,
        r"^split_directions: directions=1 disagrees with the module: expected directions=2 "
        r"for LSTM\(3, 4, num_layers=2, batch_first=True, bidirectional=True\); leave "
        r"directions out to read it from the module$",
    ),
    (
        "zero",
        lambda out, m: bh.split_directions(out, directions=0),
        ValueError,
        r"^split_directions: expected directions to be 1 or 2, got 0$",
    ),
    (
        "three-directions",
        lambda out, m: bh.split_directions(out, directions=4),
        ValueError,
        r"^split_directions: expected directions to be 1 or 2, got 4$",
    ),
    (
        "not-recurrent",
        lambda out, m: bh.split_directions(out, module=nn.Linear(8, 8)),
        TypeError,
        r"^split_directions: expected module= to be an nn\.LSTM, nn\.GRU or nn\.RNN, got "
        r"Linear; pass the recurrent layer itself$",
    ),
    (
        "not-a-tensor",
        lambda out, m: bh.split_directions(out.tolist(), directions=2),
        TypeError,
        r"^split_directions expected a tensor or PackedSequence, got list$",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in SPLIT_DIRECTIONS_ERRORS],
    ids=[case[0] for case in SPLIT_DIRECTIONS_ERRORS],
)
def test_split_directions_errors(
    bi_lstm: nn.LSTM, call: Any, error: type[Exception], message: str
) -> None:
    out, _ = bi_lstm(torch.randn(2, 5, 3))
    with pytest.raises(error, match=message):
        call(out, bi_lstm)


SPLIT_LAYERS_ERRORS = [
    (
        "batch-first-h_n",
        lambda h, m: bh.split_layers(h.transpose(0, 1), module=m),
        ValueError,
        r"^cannot split layers: expected \(layer direction\) batch hidden = \(\(2 2\), batch, "
        r"4\) \(or unbatched \(layer direction\) hidden\), got shape \(3, 4, 4\)\. "
        r"Note batch_first never applies to h_n and c_n\.$",
    ),
    (
        "too-few-rows",
        lambda h, m: bh.split_layers(h[:3], module=m),
        ValueError,
        r"= \(\(2 2\), batch, 4\) .*got shape \(3, 3, 4\)",
    ),
    (
        "4-d",
        lambda h, m: bh.split_layers(h.unsqueeze(0), layers=2, directions=2),
        ValueError,
        r"got shape \(1, 4, 3, 4\)",
    ),
    (
        "wrong-layers",
        lambda h, m: bh.split_layers(h, layers=3, directions=2),
        ValueError,
        r"= \(\(3 2\), batch, hidden\) .*got shape \(4, 3, 4\)",
    ),
    (
        "missing-layers",
        lambda h, m: bh.split_layers(h, directions=2),
        TypeError,
        r"^split_layers needs to know layers: expected module=<the recurrent layer> or "
        r"layers=\.\.\., got neither$",
    ),
    (
        "missing-directions",
        lambda h, m: bh.split_layers(h, layers=2),
        TypeError,
        r"^split_layers needs to know directions",
    ),
    (
        "disagrees",
        lambda h, m: bh.split_layers(h, module=m, layers=4),
        ValueError,
        r"^split_layers: layers=4 disagrees with the module: expected layers=2 for LSTM\(.*\); "
        r"leave layers out to read it from the module$",
    ),
    (
        "negative",
        lambda h, m: bh.split_layers(h, layers=-1, directions=2),
        ValueError,
        r"^split_layers: expected layers to be a positive int, got -1$",
    ),
    (
        "float",
        lambda h, m: bh.split_layers(h, layers=2.0, directions=2),
        TypeError,
        r"^split_layers: expected an int for layers \(the layer's num_layers\), got 2\.0 "
        r"\(a float\)$",
    ),
    (
        "not-a-tensor",
        lambda h, m: bh.split_layers((h, h), module=m),
        TypeError,
        r"^split_layers expected a tensor, got tuple$",
    ),
    (
        "final-batch-first-h_n",
        lambda h, m: bh.final_representation(h.transpose(0, 1), module=m),
        ValueError,
        r"^cannot split layers: .*got shape \(3, 4, 4\)\. Note batch_first never applies",
    ),
    (
        "final-missing-sizes",
        lambda h, m: bh.final_representation(h),
        TypeError,
        r"^final_representation needs to know layers: expected module=<the recurrent layer> "
        r"or layers=\.\.\., got neither$",
    ),
    (
        "final-disagrees",
        lambda h, m: bh.final_representation(h, module=m, directions=1),
        ValueError,
        r"^final_representation: directions=1 disagrees with the module: expected "
        r"directions=2 for LSTM\(.*\); leave directions out to read it from the module$",
    ),
    (
        "final-not-a-tensor",
        lambda h, m: bh.final_representation(h.tolist(), module=m),
        TypeError,
        r"^final_representation expected a tensor, got list$",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in SPLIT_LAYERS_ERRORS],
    ids=[case[0] for case in SPLIT_LAYERS_ERRORS],
)
def test_split_layers_and_final_representation_errors(
    bi_lstm: nn.LSTM, call: Any, error: type[Exception], message: str
) -> None:
    _, (h_n, _) = bi_lstm(torch.randn(3, 5, 3))
    with pytest.raises(error, match=message):
        call(h_n, bi_lstm)


LAST_OUTPUTS_ERRORS = [
    (
        "lengths-wrong-size",
        lambda out, p, m: bh.last_outputs(out, [5, 3], module=m),
        ValueError,
        r"^last_outputs: expected one length per batch row, got 2 lengths for out of shape "
        r"\(3, 5, 8\): neither axis 0 \(batch_first=True\) nor axis 1 \(batch_first=False\) "
        r"has size 2$",
    ),
    (
        "lengths-2-d",
        lambda out, p, m: bh.last_outputs(out, torch.ones(3, 1, dtype=torch.long), module=m),
        ValueError,
        r"^last_outputs: expected lengths as a 1-D tensor \(one int per batch row\), got "
        r"shape \(3, 1\); a \(batch, token\) padding mask gives lengths as mask\.sum\(1\) "
        r"\(True or 1 at valid tokens\)$",
    ),
    (
        "lengths-float",
        lambda out, p, m: bh.last_outputs(out, [5.0, 3.0, 2.0], module=m),
        ValueError,
        r"^last_outputs: expected lengths as ints, one per batch row, got torch\.float32 of "
        r"shape \(3,\); pass lengths\.long\(\) if they hold whole numbers$",
    ),
    (
        "length-zero",
        lambda out, p, m: bh.last_outputs(out, [5, 0, 2], module=m),
        ValueError,
        r"^last_outputs: expected every length in \[1, 5\] \(the token axis\), got min 0, max 5$",
    ),
    (
        "length-too-long",
        lambda out, p, m: bh.last_outputs(out, torch.tensor([6, 3, 2]), module=m),
        ValueError,
        r"^last_outputs: expected every length in \[1, 5\] \(the token axis\), got min 2, max 6$",
    ),
    (
        "lengths-not-numbers",
        lambda out, p, m: bh.last_outputs(out, ["5", "3", "2"], module=m),
        TypeError,
        r"^last_outputs: expected lengths as a 1-D int tensor or a sequence of ints, got "
        r"\['5', '3', '2'\] \(a list\)$",
    ),
    (
        "lengths-disagree-with-packed",
        lambda out, p, m: bh.last_outputs(p, [5, 3, 3], module=m),
        ValueError,
        r"^last_outputs: expected lengths to match the PackedSequence's \[5, 3, 2\], got "
        r"\[5, 3, 3\]; leave lengths out for packed input$",
    ),
    (
        "lengths-for-unbatched",
        lambda out, p, m: bh.last_outputs(out[0], [5], module=m),
        ValueError,
        r"^last_outputs: expected no lengths for an unbatched out \(token \(direction hidden\)\), "
        r"got lengths for shape \(5, 8\); lengths apply to batched \(3-D\) outputs only$",
    ),
    (
        "4-d",
        lambda out, p, m: bh.last_outputs(out.unsqueeze(0), module=m),
        ValueError,
        r"^last_outputs expected out as batch token \(direction hidden\), token batch "
        r"\(direction hidden\) or unbatched token \(direction hidden\), got shape \(1, 3, 5, 8\)$",
    ),
    (
        "odd-width",
        lambda out, p, m: bh.last_outputs(out[..., :7], module=m),
        ValueError,
        r"^cannot split directions: expected \.\.\. \(direction hidden\) = \(\.\.\., \(2 4\)\), "
        r"got shape \(3, 5, 7\)\.$",
    ),
    (
        "odd-width-no-module",
        lambda out, p, m: bh.last_outputs(out[..., :7], directions=2, batch_first=True),
        ValueError,
        r"= \(\.\.\., \(2 \?\)\), got shape \(3, 5, 7\)\.$",
    ),
    (
        "h_n-for-out",
        lambda out, p, m: bh.last_outputs(m(torch.randn(3, 5, 3))[1][0], module=m),
        ValueError,
        r"^cannot split directions: expected \.\.\. \(direction hidden\) = \(\.\.\., \(2 4\)\), "
        r"got shape \(4, 3, 4\)\. Is it h_n\? final_representation\(\) reads h_n\.$",
    ),
    (
        "no-tokens",
        lambda out, p, m: bh.last_outputs(out[:, :0], module=m),
        ValueError,
        r"^last_outputs: expected at least one token, got shape \(3, 0, 8\)$",
    ),
    (
        "missing-batch-first",
        lambda out, p, m: bh.last_outputs(out, directions=2),
        TypeError,
        r"^last_outputs needs to know batch_first: expected module=<the recurrent layer> or "
        r"batch_first=True/False, got neither$",
    ),
    (
        "missing-directions",
        lambda out, p, m: bh.last_outputs(p),
        TypeError,
        r"^last_outputs needs to know directions",
    ),
    (
        "not-a-tensor",
        lambda out, p, m: bh.last_outputs(out.numpy(), module=m),
        TypeError,
        r"^last_outputs expected a tensor or PackedSequence, got ndarray$",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in LAST_OUTPUTS_ERRORS],
    ids=[case[0] for case in LAST_OUTPUTS_ERRORS],
)
def test_last_outputs_errors(
    bi_lstm: nn.LSTM, call: Any, error: type[Exception], message: str
) -> None:
    x = torch.randn(3, 5, 3)
    with torch.no_grad():
        out, _ = bi_lstm(x)
        packed, _ = bi_lstm(pack_padded_sequence(x, [5, 3, 2], batch_first=True))
    with pytest.raises(error, match=message):
        call(out, packed, bi_lstm)


# -- issue 9: validate, never guess ------------------------------------------------------------


BOOL_COUNTS = [
    (
        "last_outputs-directions",
        lambda o, h: bh.last_outputs(o, [5, 3], directions=True, batch_first=True),
        "directions",
    ),
    (
        "split_directions-directions",
        lambda o, h: bh.split_directions(o, directions=True),
        "directions",
    ),
    (
        "split_directions-hidden",
        lambda o, h: bh.split_directions(o, directions=2, hidden=True),
        "hidden",
    ),
    ("split_layers-layers", lambda o, h: bh.split_layers(h, layers=True, directions=2), "layers"),
    (
        "split_layers-directions",
        lambda o, h: bh.split_layers(h, layers=2, directions=False),
        "directions",
    ),
    ("final-layers", lambda o, h: bh.final_representation(h, layers=True, directions=1), "layers"),
]


@pytest.mark.parametrize(
    ("call", "name"), [c[1:] for c in BOOL_COUNTS], ids=[c[0] for c in BOOL_COUNTS]
)
def test_bools_are_never_counts(bi_lstm: nn.LSTM, call: Any, name: str) -> None:
    out, (h_n, _) = bi_lstm(torch.randn(2, 5, 3))
    with pytest.raises(
        TypeError,
        match=rf": expected an int for {name} \(.*\), got (True|False) "
        r"\(a bool\)$",
    ):
        call(out, h_n)


def test_a_bool_count_is_refused_even_where_it_equals_the_module(bi_lstm: nn.LSTM) -> None:
    uni = nn.GRU(3, 4)
    out, h_n = uni(torch.randn(5, 2, 3))
    with pytest.raises(TypeError, match=r"^split_directions: expected an int for directions"):
        bh.split_directions(out, module=uni, directions=True)  # True == 1 == the module's
    with pytest.raises(TypeError, match=r"^split_layers: expected an int for layers"):
        bh.split_layers(h_n, module=uni, layers=True)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2", r"'2' \(a str\)"),
        (2.0, r"2\.0 \(a float\)"),
        (
            torch.tensor(2),
            r"a torch\.int64 "
            r"tensor of shape \(\)",
        ),
        ([2], r"\[2\] \(a list\)"),
    ],
    ids=["str", "float", "tensor", "list"],
)
def test_counts_must_be_ints(value: object, shown: str) -> None:
    with pytest.raises(
        TypeError,
        match=r"^split_directions: expected an int for directions \(2 for a bidirectional "
        rf"layer, 1 otherwise\), got {shown}$",
    ):
        bh.split_directions(torch.zeros(2, 8), directions=value)  # type: ignore[arg-type]


def test_integer_like_counts_are_ints() -> None:
    np = pytest.importorskip("numpy")
    fwd, bwd = bh.split_directions(torch.zeros(2, 8), directions=np.int64(2))
    assert fwd.shape == bwd.shape == (2, 4)


@pytest.mark.parametrize(
    "mask",
    [
        torch.tensor([[True, True, False], [True, False, False]]),
        torch.tensor([True, False]),
        [True, True],
        [3, True],
    ],
    ids=["2-d-bool", "1-d-bool", "list-of-bools", "int-and-bool"],
)
def test_a_mask_is_not_lengths(mask: object) -> None:
    out = labelled_out(2, 3, 2, 2)
    with pytest.raises(
        ValueError,
        match=r"^last_outputs: expected lengths as ints, one per batch row, got .*"
        r"which looks? like a mask; a \(batch, token\) padding mask gives lengths as "
        r"mask\.sum\(1\) \(True or 1 at valid tokens\)$",
    ):
        bh.last_outputs(out, mask, batch_first=True, directions=2)  # type: ignore[arg-type]


def test_an_int_mask_is_not_lengths_either() -> None:
    out = labelled_out(2, 3, 2, 2)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"got shape \(2, 3\); .*mask\.sum\(1\)"):
        bh.last_outputs(out, mask, batch_first=True, directions=2)
    got = bh.last_outputs(out, mask.sum(1), batch_first=True, directions=2)
    assert got[:, 0].tolist() == [100, 1000]


def test_explicit_hidden_is_checked_against_the_module(bi_lstm: nn.LSTM) -> None:
    out, _ = bi_lstm(torch.randn(2, 5, 3))
    with pytest.raises(
        ValueError,
        match=r"^split_directions: hidden=2 disagrees with the module: expected hidden=4 for "
        r"LSTM\(3, 4, .*\); leave hidden out to read it from the module$",
    ):
        bh.split_directions(out, module=bi_lstm, hidden=2)
    assert len(bh.split_directions(out, module=bi_lstm, hidden=4)) == 2
    proj = nn.LSTM(3, 4, proj_size=2, bidirectional=True)
    out, _ = proj(torch.randn(5, 3))
    assert len(bh.split_directions(out, module=proj, hidden=2)) == 2  # proj_size is hidden
    with pytest.raises(ValueError, match=r"hidden=4 disagrees .*expected hidden=2 "):
        bh.split_directions(out, module=proj, hidden=4)


@pytest.mark.parametrize("value", ["False", 0, 1, None.__class__, torch.tensor(True)])
def test_batch_first_must_be_a_bool(value: object) -> None:
    out = labelled_out(2, 3, 2, 2)
    with pytest.raises(
        TypeError, match=r"^last_outputs: expected batch_first to be True or False, got "
    ):
        bh.last_outputs(out, batch_first=value, directions=2)  # type: ignore[arg-type]


def test_explicit_batch_first_overrides_the_module(bi_lstm: nn.LSTM) -> None:
    x = torch.randn(3, 5, 3)
    packed = pack_padded_sequence(x, [5, 3, 2], batch_first=True)
    packed_out, (h_n, _) = bi_lstm(packed)
    final = bh.final_representation(h_n, module=bi_lstm)
    time_major, lengths = pad_packed_sequence(packed_out)  # token batch: not the module's
    got = bh.last_outputs(time_major, lengths, module=bi_lstm, batch_first=False)
    assert torch.equal(got, final)
    full, _ = bi_lstm(x)
    assert torch.equal(
        bh.last_outputs(full.transpose(0, 1), module=bi_lstm, batch_first=False),
        bh.last_outputs(full, module=bi_lstm),
    )


def test_lengths_pin_the_batch_axis_of_a_time_major_padded_out(bi_lstm: nn.LSTM) -> None:
    """The classic: a batch-first layer, then pad_packed_sequence's time-major default."""
    packed = pack_padded_sequence(
        torch.randn(3, 5, 3), [2, 5, 4], batch_first=True, enforce_sorted=False
    )
    packed_out, (h_n, _) = bi_lstm(packed)
    final = bh.final_representation(h_n, module=bi_lstm)
    padded, lengths = pad_packed_sequence(packed_out)  # (token=5, batch=3, 8)
    assert torch.equal(bh.last_outputs(padded, lengths, module=bi_lstm), final)
    assert torch.equal(bh.last_outputs(padded, lengths.tolist(), directions=2), final)
    padded_bf, _ = pad_packed_sequence(packed_out, batch_first=True)
    assert torch.equal(bh.last_outputs(padded_bf, lengths, directions=2), final)


def test_a_square_padded_out_is_ambiguous_without_batch_first(bi_lstm: nn.LSTM) -> None:
    """tokens == batch: neither the lengths nor the module's batch_first can tell."""
    packed = pack_padded_sequence(
        torch.randn(3, 3, 3), [3, 1, 2], batch_first=True, enforce_sorted=False
    )
    packed_out, (h_n, _) = bi_lstm(packed)
    final = bh.final_representation(h_n, module=bi_lstm)
    padded, lengths = pad_packed_sequence(packed_out)  # (token=3, batch=3, 8)
    with pytest.raises(
        ValueError,
        match=r"^last_outputs: the layout of out of shape \(3, 3, 8\) is ambiguous with 3 "
        r"lengths: expected batch_first=True \(batch token \.\.\.\) or batch_first=False "
        r"\(token batch \.\.\.\); pass batch_first= to say which \(pad_packed_sequence returns "
        r"token batch \.\.\. unless told batch_first=True, whatever the module's\)$",
    ):
        bh.last_outputs(padded, lengths, module=bi_lstm)
    assert torch.equal(bh.last_outputs(padded, lengths, module=bi_lstm, batch_first=False), final)
    padded_bf, _ = pad_packed_sequence(packed_out, batch_first=True)
    assert torch.equal(bh.last_outputs(padded_bf, lengths, module=bi_lstm, batch_first=True), final)


def test_a_square_out_the_registry_knows_needs_no_batch_first() -> None:
    for batch_first in (True, False):
        gru = nn.GRU(2, 3, bidirectional=True, batch_first=batch_first)
        with bh.attach_hooks(gru):
            out, h_n = gru(torch.randn(4, 4, 2))
        final = bh.final_representation(h_n, module=gru)
        assert torch.equal(bh.last_outputs(out, [4] * 4, directions=2), final)
        assert torch.equal(bh.last_outputs(out, [4] * 4, module=gru), final)


def test_lengths_that_fit_the_other_axis_of_an_annotated_out_are_refused() -> None:
    gru = nn.GRU(2, 3, batch_first=True)
    with bh.attach_hooks(gru):
        out, _ = gru(torch.randn(2, 4, 2))  # batch token hidden, annotated
    with pytest.raises(
        ValueError,
        match=r"^last_outputs: expected 2 lengths \(one per batch row: out is annotated batch "
        r"token \.\.\.\), got 4$",
    ):
        bh.last_outputs(out, [1, 2, 2, 1], module=gru)


LENGTHS_ERRORS = [
    (
        "complex",
        torch.tensor([3, 2], dtype=torch.complex64),
        ValueError,
        r"^last_outputs: expected lengths as ints, one per batch row, got torch\.complex64 of "
        r"shape \(2,\)$",
    ),
    (
        "meta",
        torch.tensor([3, 2], device="meta"),
        ValueError,
        r"^last_outputs: expected lengths with values, got lengths on the meta device, which "
        r"have none; pass them on the cpu or on the tensor's device$",
    ),
    (
        "bfloat16",
        torch.tensor([3, 2], dtype=torch.bfloat16),
        ValueError,
        r"got torch\.bfloat16 of shape \(2,\); pass lengths\.long\(\)",
    ),
    ("scalar", torch.tensor(3), ValueError, r"expected lengths as a 1-D tensor .*got shape \(\)$"),
    ("string", "32", TypeError, r"sequence of ints, got '32' \(a str\)$"),
    ("object", object(), TypeError, r"sequence of ints, got <object object at .*> \(an object\)$"),
    ("huge", [2**70, 1], TypeError, r"sequence of ints, got \[1180591620717411303424, 1\]"),
    (
        "sparse",
        torch.tensor([3, 2]).to_sparse(),
        TypeError,
        r"dense tensor, got a "
        r"torch\.sparse_coo tensor; pass lengths\.to_dense\(\)$",
    ),
    (
        "wrong-count",
        [3, 2, 1],
        ValueError,
        r"^last_outputs: expected 2 lengths \(one per batch row of out of shape \(2, 3, 4\)\), "
        r"got 3$",
    ),
]


@pytest.mark.parametrize(
    ("lengths", "error", "message"),
    [c[1:] for c in LENGTHS_ERRORS],
    ids=[c[0] for c in LENGTHS_ERRORS],
)
def test_lengths_errors(lengths: object, error: type[Exception], message: str) -> None:
    out = labelled_out(2, 3, 2, 2)
    with pytest.raises(error, match=message):
        bh.last_outputs(out, lengths, batch_first=True, directions=2)  # type: ignore[arg-type]


def test_lengths_of_any_int_dtype_and_sequence_type() -> None:
    out = labelled_out(2, 3, 2, 2)
    expected = bh.last_outputs(out, [2, 3], batch_first=True, directions=2)
    assert expected[:, 0].tolist() == [100, 1200]
    for lengths in (
        (2, 3),
        range(2, 4),
        torch.tensor([2, 3], dtype=torch.int32),
        torch.tensor([2, 3], dtype=torch.uint8),
        [torch.tensor(2), torch.tensor(3)],
    ):
        got = bh.last_outputs(out, lengths, batch_first=True, directions=2)  # type: ignore[arg-type]
        assert torch.equal(got, expected), lengths


def test_empty_batch() -> None:
    out = torch.zeros(0, 3, 4)
    assert bh.last_outputs(out, [], batch_first=True, directions=2).shape == (0, 4)
    assert bh.last_outputs(out, batch_first=True, directions=2).shape == (0, 4)


def test_meta_out_with_real_lengths_gives_a_meta_result() -> None:
    out = torch.empty(3, 5, 8, device="meta")
    got = bh.last_outputs(out, [5, 2, 1], batch_first=True, directions=2)
    assert got.device.type == "meta"
    assert got.shape == (3, 8)
    with pytest.raises(ValueError, match=r"expected every length in \[1, 5\]"):
        bh.last_outputs(out, [6, 2, 1], batch_first=True, directions=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_lengths_and_out_on_different_devices() -> None:
    out = labelled_out(2, 3, 2, 2)
    expected = bh.last_outputs(out, [2, 3], batch_first=True, directions=2)
    cuda_lengths = torch.tensor([2, 3], device="cuda")
    assert torch.equal(bh.last_outputs(out, cuda_lengths, batch_first=True, directions=2), expected)
    got = bh.last_outputs(out.cuda(), [2, 3], batch_first=True, directions=2)
    assert got.device.type == "cuda"
    assert torch.equal(got.cpu(), expected)
    with pytest.raises(ValueError, match=r"expected every length in \[1, 3\]"):
        bh.last_outputs(out, torch.tensor([4, 3], device="cuda"), batch_first=True, directions=2)


UNKNOWN_KEYWORDS = [
    (
        lambda o, h: bh.last_outputs(o, num_directions=2),
        r"^last_outputs\(\) got an unexpected keyword argument 'num_directions'; it accepts: "
        r"lengths, module, batch_first, directions; did you mean 'directions'\?$",
    ),
    (
        lambda o, h: bh.split_directions(o, hidden_size=4),
        r"^split_directions\(\) got an unexpected keyword argument 'hidden_size'; it accepts: "
        r"module, directions, hidden; did you mean 'hidden'\?$",
    ),
    (
        lambda o, h: bh.split_layers(h, num_layers=2, bidirectional=True),
        r"^split_layers\(\) got unexpected keyword arguments 'num_layers', 'bidirectional'; it "
        r"accepts: module, layers, directions; did you mean 'layers' for 'num_layers', "
        r"'directions' for 'bidirectional'\?$",
    ),
    (
        lambda o, h: bh.final_representation(h_n=h, lstm=None),
        r"^final_representation\(\) got an unexpected keyword argument 'lstm'; it accepts: h_n, "
        r"module, layers, directions$",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    UNKNOWN_KEYWORDS,
    ids=["last_outputs", "split_directions", "split_layers-two", "final_representation"],
)
def test_unknown_keywords_are_named_with_the_accepted_ones(
    bi_lstm: nn.LSTM, call: Any, message: str
) -> None:
    out, (h_n, _) = bi_lstm(torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match=message):
        call(out, h_n)


def test_helpers_keep_their_signatures() -> None:
    import inspect

    assert str(inspect.signature(bh.last_outputs)) == (
        "(out: 'torch.Tensor | PackedSequence', lengths: 'torch.Tensor | Sequence[int] | None' "
        "= None, *, module: 'nn.Module | None' = None, batch_first: 'bool | None' = None, "
        "directions: 'int | None' = None) -> 'torch.Tensor'"
    )
    for helper in (bh.split_directions, bh.split_layers, bh.final_representation):
        assert helper.__module__ == "bilstm_hooks._helpers.outputs"
        assert ">>>" in (helper.__doc__ or "")


def test_a_type_error_inside_a_helper_is_not_rewritten() -> None:
    with pytest.raises(TypeError, match=r"^split_layers expected a tensor, got str$"):
        bh.split_layers("h_n", layers=1, directions=1)  # type: ignore[arg-type]


def test_time_major_padded_out_across_the_matrix(layout_matrix: list[Any], run: Any) -> None:
    """Every batched call of the matrix, its out padded time-major (pad_packed_sequence's
    default) and batch-major, whatever the layer's batch_first: the h_n oracle holds."""
    checked = 0
    for cfg in layout_matrix:
        if not cfg.batched:
            continue
        case = run(cfg, hooked=False)
        layer = case.layer
        final = torch.cat(list(case.h_n[-cfg.directions :]), dim=-1)
        if cfg.packed:
            time_major, lengths = pad_packed_sequence(case.out)
            batch_major, _ = pad_packed_sequence(case.out, batch_first=True)
        else:
            batch_major = case.out if cfg.batch_first else case.out.transpose(0, 1)
            time_major, lengths = batch_major.transpose(0, 1), torch.full((cfg.batch,), cfg.tokens)
        assert cfg.batch != time_major.shape[0], cfg.id  # the lengths pin the batch axis
        for padded, first in ((time_major, False), (batch_major, True)):
            for kwargs in ({"module": layer}, {"directions": cfg.directions}):
                got = bh.last_outputs(padded, lengths, **kwargs)
                assert torch.equal(got, final), (cfg.id, first, kwargs)
                got = bh.last_outputs(padded, lengths.tolist(), batch_first=first, **kwargs)
                assert torch.equal(got, final), (cfg.id, first, kwargs)
        checked += 1
    assert checked > 200


def test_final_representation_of_a_hooked_out_says_to_use_last_outputs() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(5, 2, 3))
    for call in (
        lambda: bh.final_representation(out, module=lstm),
        lambda: bh.final_representation(out),
    ):
        with pytest.raises(
            ValueError, match=r"^final_representation expected h_n, got encoder\.out"
        ) as raised:
            call()
        assert "bh.last_outputs(out, lengths, module=...)" in str(raised.value)
    # h_n itself, and an unhooked tensor of out's shape, as before
    assert torch.equal(bh.final_representation(h_n, module=lstm), torch.cat([h_n[-2], h_n[-1]], -1))
    with pytest.raises(ValueError, match="cannot split layers"):
        bh.final_representation(out.clone(), module=lstm)
