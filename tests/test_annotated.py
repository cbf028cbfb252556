"""AnnotatedTensor, annotation_of() and describe()."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry


@pytest.fixture
def seed_call(seq_lstm: nn.LSTM) -> tuple[bh.Record, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The seed model of DESIGN.md, hooked as `encoder`, called on one sequence of 6 tokens."""
    with bh.attach_hooks(nn.ModuleDict({"encoder": seq_lstm})) as rec:
        out, (h_n, c_n) = seq_lstm(torch.randn(1, 6, 3))
    return rec["encoder"], out, h_n, c_n


def shares_storage(view: torch.Tensor, base: torch.Tensor) -> bool:
    return view.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()


# -- the basics --------------------------------------------------------------------------


def test_reprs_match_the_design(seed_call: Any) -> None:
    record, *_ = seed_call
    assert repr(record.out) == "AnnotatedTensor[batch=1, token=6, (direction=2 hidden=4)]"
    assert repr(record.h_n) == "AnnotatedTensor[(layer=2 direction=2), batch=1, hidden=4]"
    assert repr(record.c_n) == "AnnotatedTensor[(layer=2 direction=2), batch=1, hidden=4]"
    assert repr(record.input) == "AnnotatedTensor[batch=1, token=6, feature=3]"
    fwd, bwd = record.out.split_directions()
    assert repr(fwd) == repr(bwd) == "AnnotatedTensor[batch=1, token=6, hidden=4]"


def test_tensor_pattern_dims_sizes(seed_call: Any) -> None:
    record, out, h_n, _ = seed_call
    annotated = record.out
    assert isinstance(annotated.tensor, torch.Tensor)
    assert type(annotated.tensor) is torch.Tensor  # a plain tensor, no subclass
    assert torch.equal(annotated.tensor, out)
    assert annotated.pattern == "batch token (direction hidden)"
    assert annotated.dims == ("batch", "token", "direction", "hidden")
    assert annotated.sizes == {"batch": 1, "token": 6, "direction": 2, "hidden": 4}
    assert annotated.shape == out.shape
    assert record.h_n.pattern == "(layer direction) batch hidden"
    assert record.h_n.dims == ("layer", "direction", "batch", "hidden")
    assert record.h_n.shape == h_n.shape
    assert annotated.origin == "encoder.out"


def test_sizes_is_a_copy(seed_call: Any) -> None:
    record, *_ = seed_call
    record.out.sizes["hidden"] = 99
    assert record.out.sizes["hidden"] == 4


def test_unknown_attribute_points_at_tensor(seed_call: Any) -> None:
    record, *_ = seed_call
    with pytest.raises(
        AttributeError,
        match=r"^'AnnotatedTensor' object has no attribute 'sum'; the plain tensor is \.tensor "
        r"\(e\.g\. \.tensor\.sum\)$",
    ):
        record.out.sum()


def test_constructor_checks_the_shape(seed_call: Any) -> None:
    record, out, *_ = seed_call
    with pytest.raises(
        ValueError,
        match=r"^expected batch token \(direction hidden\) = \(1, 6, \(2 4\)\), "
        r"got shape \(1, 6, 4\) for mine$",
    ):
        bh.AnnotatedTensor(out[..., :4], record.out.axes, "mine")
    with pytest.raises(ValueError, match=r"got shape \(6, 8\)$"):
        bh.AnnotatedTensor(out[0], record.out.axes)


def test_constructor_checks_the_types(seed_call: Any) -> None:
    record, out, *_ = seed_call
    with pytest.raises(TypeError, match=r"^expected tensor as a torch\.Tensor, got None$"):
        bh.AnnotatedTensor(None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^expected tensor as a torch\.Tensor, got \[1, 2\]$"):
        bh.AnnotatedTensor([1, 2], record.out.axes)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^expected axes as an Axes, got 'batch token'$"):
        bh.AnnotatedTensor(out, "batch token")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^expected origin as a str, got 3$"):
        bh.AnnotatedTensor(out, record.out.axes, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("item", ["batch token hidden", "x", int])
def test_annotated_tensor_is_not_a_type_annotation_form(item: Any) -> None:
    with pytest.raises(
        TypeError,
        match=r"^AnnotatedTensor is not generic: AnnotatedTensor\[\.\.\.\] names no dims\. "
        r"Annotate with torch\.Tensor; at run time bh\.annotation_of\(tensor\) gives a "
        r"tensor's names, AnnotatedTensor\(tensor, axes\) wraps one$",
    ):
        bh.AnnotatedTensor[item]  # type: ignore[misc]


# -- rearrange ------------------------------------------------------------------------------


# target -> (the same layout with plain torch ops on h_n (4, B, 4) of a 2-layer bi LSTM,
#            whether einops can give a view)
H_N_TARGETS = {
    "layer direction batch hidden": (lambda h: h.view(2, 2, 3, 4), True),
    "direction layer batch hidden": (lambda h: h.view(2, 2, 3, 4).transpose(0, 1), True),
    "batch (layer direction) hidden": (lambda h: h.transpose(0, 1), True),
    "(layer direction) batch hidden": (lambda h: h, True),
    "batch layer (direction hidden)": (
        lambda h: h.view(2, 2, 3, 4).permute(2, 0, 1, 3).reshape(3, 2, 8),
        False,
    ),
    "layer batch (direction hidden)": (
        lambda h: h.view(2, 2, 3, 4).permute(0, 2, 1, 3).reshape(2, 3, 8),
        False,
    ),
}


@pytest.fixture
def h_n_call() -> tuple[bh.Record, torch.Tensor]:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    with bh.attach_hooks(lstm) as rec:
        _, (h_n, _) = lstm(torch.randn(5, 3, 3))
    return rec[lstm], h_n


@pytest.mark.parametrize("target", H_N_TARGETS)
def test_rearrange_h_n(h_n_call: Any, target: str) -> None:
    record, h_n = h_n_call
    by_hand, is_view = H_N_TARGETS[target]
    result = record.h_n.rearrange(target)
    assert isinstance(result, bh.AnnotatedTensor)
    assert result.pattern == target
    assert result.sizes == {"layer": 2, "direction": 2, "batch": 3, "hidden": 4}
    assert torch.equal(result.tensor, by_hand(h_n))
    assert shares_storage(result.tensor, record.h_n.tensor) == is_view
    if is_view:
        assert result.tensor.data_ptr() == record.h_n.tensor.data_ptr()
    # and back again
    assert torch.equal(result.rearrange(record.h_n.pattern).tensor, h_n)


OUT_TARGETS = {
    # target -> (plain torch on out (1, 6, 8), is a view)
    "batch token direction hidden": (lambda o: o.view(1, 6, 2, 4), True),
    "direction batch token hidden": (lambda o: o.view(1, 6, 2, 4).permute(2, 0, 1, 3), True),
    "(batch token) (direction hidden)": (lambda o: o.view(6, 8), True),
    "token batch (direction hidden)": (lambda o: o.transpose(0, 1), True),
    "batch (token direction hidden)": (lambda o: o.reshape(1, 48), True),
    "batch token (hidden direction)": (
        lambda o: o.view(1, 6, 2, 4).transpose(2, 3).reshape(1, 6, 8),
        False,
    ),
}


@pytest.mark.parametrize("target", OUT_TARGETS)
def test_rearrange_out(seed_call: Any, target: str) -> None:
    record, out, *_ = seed_call
    by_hand, is_view = OUT_TARGETS[target]
    result = record.out.rearrange(target)
    assert result.pattern == target
    assert torch.equal(result.tensor, by_hand(out))
    assert shares_storage(result.tensor, out) == is_view
    if is_view:
        assert result.tensor._base is not None or result.tensor is record.out.tensor
    assert result.origin == "encoder.out"


def test_rearranged_dims_unpack_fused_groups(seed_call: Any) -> None:
    record, *_ = seed_call
    result = record.out.rearrange("(batch token) (direction hidden)")
    assert result.dims == ("batch", "token", "direction", "hidden")
    assert repr(result) == "AnnotatedTensor[(batch=1 token=6), (direction=2 hidden=4)]"
    result.tensor[0, 0] = 42.0  # a view: writes through
    assert record.out.tensor[0, 0, 0] == 42.0


def test_a_dimension_of_size_1_may_be_left_out() -> None:
    gru = nn.GRU(3, 4, batch_first=True)  # unidirectional: direction=1
    with bh.attach_hooks(gru) as rec:
        out, _ = gru(torch.randn(2, 6, 3))
    plain = rec[gru].out.rearrange("batch token hidden")
    assert plain.pattern == "batch token hidden"
    assert plain.sizes == {"batch": 2, "token": 6, "hidden": 4}
    assert torch.equal(plain.tensor, out)
    assert plain.tensor.data_ptr() == out.data_ptr()  # a view
    per_token = rec[gru].out.rearrange("token batch hidden")
    assert torch.equal(per_token.tensor, out.transpose(0, 1))


def test_indexing_an_annotated_tensor_gives_the_view_with_derived_names(seed_call: Any) -> None:
    record, *_ = seed_call
    last = record.out[:, -1]
    assert isinstance(last, bh.AnnotatedTensor)
    assert last.pattern == "batch (direction hidden)"
    assert last.at == {"token": 5}
    assert torch.equal(last.tensor, record.out.tensor[:, -1])
    picked = record.out.tensor[[0, 0]]  # a list index copies: no names, the plain tensor
    assert isinstance(record.out[[0, 0]], torch.Tensor)
    assert torch.equal(record.out[[0, 0]], picked)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "layer batch width",
            r"^cannot rearrange encoder\.h_n \(\(layer=2 direction=2\) batch=1 hidden=4\) "
            r"to 'layer batch width': unknown dimension 'width'; "
            r"known: layer, direction, batch, hidden$",
        ),
        (
            "(layer sentence) batch (words hidden)",
            r"unknown dimension 'sentence', 'words'; known: layer, direction, batch, hidden$",
        ),
        (
            "layer batch hidden",
            r"^cannot rearrange encoder\.h_n \(\(layer=2 direction=2\) batch=1 hidden=4\) "
            r"to 'layer batch hidden': missing 'direction' \(size 2\); rearrange keeps every "
            r"dimension \(only those of size 1 may be left out\)$",
        ),
        (
            "layer direction layer batch hidden",
            r"to 'layer direction layer batch hidden': 'layer' appears more than once$",
        ),
        (
            "((layer direction)) batch hidden",
            r"^cannot rearrange encoder\.h_n \(\(layer=2 direction=2\) batch=1 hidden=4\) "
            r"to '\(\(layer direction\)\) batch hidden': nested parentheses",
        ),
        ("(layer direction batch hidden", r"unbalanced parentheses"),
        ("layer direction) batch hidden", r"unbalanced or empty parentheses"),
        ("() layer direction batch hidden", r"unbalanced or empty parentheses"),
        (
            "layer direction batch ... hidden",
            r"expected axis names and parentheses .* got '\.\.\.'",
        ),
        ("layer direction batch 2", r"expected axis names and parentheses .* got '2'"),
    ],
    ids=[
        "unknown",
        "two-unknown",
        "dim-dropped",
        "dim-repeated",
        "nested",
        "unclosed",
        "unopened",
        "empty-group",
        "ellipsis",
        "number",
    ],
)
def test_rearrange_errors(seed_call: Any, target: str, message: str) -> None:
    record, *_ = seed_call
    with pytest.raises(ValueError, match=message):
        record.h_n.rearrange(target)


# -- split_directions --------------------------------------------------------------------------


def test_split_directions_of_out_are_views(seed_call: Any) -> None:
    record, out, *_ = seed_call
    fwd, bwd = record.out.split_directions()
    assert torch.equal(fwd.tensor, out[..., :4])
    assert torch.equal(bwd.tensor, out[..., 4:])
    assert fwd.tensor.data_ptr() == out.data_ptr()
    assert bwd.tensor.data_ptr() == out[..., 4:].data_ptr()
    assert fwd.tensor._base is not None
    assert (fwd.pattern, fwd.dims) == ("batch token hidden", ("batch", "token", "hidden"))
    assert (fwd.origin, bwd.origin) == ("encoder.out.forward", "encoder.out.backward")


def test_split_directions_of_h_n(seed_call: Any) -> None:
    record, _, h_n, c_n = seed_call
    fwd, bwd = record.h_n.split_directions()
    assert fwd.pattern == "layer batch hidden"
    assert fwd.sizes == {"layer": 2, "batch": 1, "hidden": 4}
    assert torch.equal(fwd.tensor, h_n[0::2])
    assert torch.equal(bwd.tensor, h_n[1::2])
    assert shares_storage(fwd.tensor, h_n)
    c_fwd, _ = record.c_n.split_directions()
    assert torch.equal(c_fwd.tensor, c_n[0::2])


def test_split_directions_of_a_unidirectional_layer_is_a_1_tuple() -> None:
    gru = nn.GRU(3, 4, num_layers=2)
    with bh.attach_hooks(gru) as rec:
        out, h_n = gru(torch.randn(5, 2, 3))
    halves = rec[gru].out.split_directions()
    assert len(halves) == 1
    assert isinstance(halves, tuple)
    assert halves[0].pattern == "token batch hidden"
    assert torch.equal(halves[0].tensor, out)
    assert shares_storage(halves[0].tensor, out)
    (states,) = rec[gru].h_n.split_directions()
    assert torch.equal(states.tensor, h_n)


def test_split_directions_of_an_already_split_tensor(seed_call: Any) -> None:
    record, *_ = seed_call
    fwd, _ = record.out.split_directions()
    with pytest.raises(
        ValueError,
        match=r"^cannot split directions of encoder\.out\.forward: expected a 'direction' "
        r"dimension, got 'batch token hidden'\. Was it already split\?$",
    ):
        fwd.split_directions()


# -- annotation_of ------------------------------------------------------------------------------


def test_annotation_of_returned_tensors(seq_lstm: nn.LSTM) -> None:
    rec = bh.attach_hooks(seq_lstm)
    out, (h_n, c_n) = seq_lstm(torch.randn(2, 6, 3))
    for tensor, pattern in [
        (out, "batch token (direction hidden)"),
        (h_n, "(layer direction) batch hidden"),
        (c_n, "(layer direction) batch hidden"),
    ]:
        annotated = bh.annotation_of(tensor)
        assert annotated is not None
        assert annotated.tensor is tensor
        assert annotated.pattern == pattern
    assert bh.annotation_of(out).origin == "<LSTM>.out"
    assert bh.annotation_of(h_n).sizes == rec[seq_lstm].h_n.sizes
    rec.remove()


def test_annotation_of_a_packed_output_is_padded() -> None:
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    packed = pack_padded_sequence(
        torch.randn(3, 5, 3), [2, 5, 4], batch_first=True, enforce_sorted=False
    )
    with bh.attach_hooks(gru):
        out, h_n = gru(packed)
    annotated = bh.annotation_of(out)
    assert annotated is not None
    assert annotated.pattern == "batch token (direction hidden)"
    assert annotated.sizes == {"batch": 3, "token": 5, "direction": 2, "hidden": 4}
    assert torch.equal(annotated.tensor, pad_packed_sequence(out, batch_first=True)[0])
    rows = bh.annotation_of(out.data)  # one row per valid token, no padding
    assert rows is not None
    assert rows.pattern == "packed (direction hidden)"
    assert rows.sizes == {"packed": int(out.batch_sizes.sum()), "direction": 2, "hidden": 4}
    assert bh.annotation_of(h_n).pattern == "(layer direction) batch hidden"


@pytest.mark.parametrize(
    "make",
    [
        lambda out, h_n: torch.zeros(3),
        lambda out, h_n: h_n.clone(),
        lambda out, h_n: out + 0,
        lambda out, h_n: [h_n],
        lambda out, h_n: None,
        lambda out, h_n: "h_n",
        lambda out, h_n: pack_padded_sequence(torch.zeros(2, 2, 1), [2, 1]),
    ],
    ids=["fresh", "clone", "computed", "list", "none", "str", "packed"],
)
def test_annotation_of_anything_else_is_none(make: Any) -> None:
    gru = nn.GRU(3, 4)
    with bh.attach_hooks(gru):
        out, h_n = gru(torch.randn(5, 2, 3))
    assert bh.annotation_of(h_n) is not None  # the control
    assert bh.annotation_of(make(out, h_n)) is None


def test_annotation_of_outputs_after_the_hooks_are_gone_is_none() -> None:
    gru = nn.GRU(3, 4)
    with bh.attach_hooks(gru):
        pass
    _, h_n = gru(torch.randn(5, 2, 3))
    assert bh.annotation_of(h_n) is None


def test_annotation_of_a_tensor_resized_in_place_is_none() -> None:
    gru = nn.GRU(3, 4)
    with bh.attach_hooks(gru), torch.no_grad():
        _, h_n = gru(torch.randn(5, 2, 3))
    assert bh.annotation_of(h_n) is not None
    h_n.unsqueeze_(0)
    assert bh.annotation_of(h_n) is None


def test_registry_entries_die_with_their_tensors() -> None:
    gru = nn.GRU(3, 4)
    bh.attach_hooks(gru)
    gc.collect()
    start = _registry.size()
    out, h_n = gru(torch.randn(5, 2, 3))
    assert _registry.size() == start + 2
    refs = [weakref.ref(out), weakref.ref(h_n)]
    del out
    assert refs[0]() is None  # the registry kept nothing alive
    assert _registry.size() == start + 1
    del h_n
    assert refs[1]() is None
    assert _registry.size() == start


# -- describe ------------------------------------------------------------------------------------


def test_describe_matches_the_design(seq_lstm: nn.LSTM) -> None:
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": seq_lstm}))
    out, (h_n, _) = seq_lstm(torch.randn(1, 6, 3))
    assert bh.describe(out) == "batch=1 token=6 (direction=2 hidden=4) · encoder.out · float32 cpu"
    assert bh.describe(h_n) == (
        "(layer=2 direction=2) batch=1 hidden=4 · encoder.h_n · float32 cpu"
    )
    assert bh.describe(rec["encoder"].c_n) == (
        "(layer=2 direction=2) batch=1 hidden=4 · encoder.c_n · float32 cpu"
    )
    fwd, _ = rec["encoder"].out.split_directions()
    assert bh.describe(fwd) == "batch=1 token=6 hidden=4 · encoder.out.forward · float32 cpu"
    assert bh.describe(rec["encoder"]) == (
        "encoder: LSTM, 2 layers, bidirectional, batch_first=True · "
        "out batch=1 token=6 (direction=2 hidden=4)"
    )
    assert bh.describe(rec) == "Recorder: 1 hooked, 1 called ('encoder')"
    rec.remove()


def test_describe_of_packed_and_unannotated_objects() -> None:
    gru = nn.GRU(3, 2, num_layers=3)
    packed = pack_padded_sequence(
        torch.randn(6, 10, 3, dtype=torch.float64),
        [2, 6, 1, 3, 4, 5, 6, 2, 1, 3],
        enforce_sorted=False,
    )
    gru = gru.double()
    with bh.attach_hooks(gru) as rec:
        out, _ = gru(packed)
    assert bh.describe(out) == (
        "token=6 batch=10 (direction=1 hidden=2) · <GRU>.out · float64 cpu · "
        "packed, lengths [2, 6, 1, 3, 4, 5, 6, 2, …]"
    )
    assert bh.describe(rec[gru]) == (
        "<GRU>: GRU, 3 layers, unidirectional, batch_first=False, packed · "
        "out token=6 batch=10 (direction=1 hidden=2)"
    )
    assert bh.describe(torch.zeros(2, 3)) == "tensor shape=(2, 3) · float32 cpu"
    assert bh.describe(packed) == "PackedSequence shape=(33, 3) · float64 cpu"
    assert bh.describe(3) == "3"
    assert bh.describe("h_n") == "'h_n'"


def test_describe_of_unbatched_and_projected_records() -> None:
    lstm = nn.LSTM(3, 4, proj_size=3)
    with bh.attach_hooks(lstm) as rec:
        lstm(torch.randn(5, 3))
    assert bh.describe(rec[lstm]) == (
        "<LSTM>: LSTM, 1 layer, unidirectional, batch_first=False, proj_size=3, unbatched · "
        "out token=5 (direction=1 hidden=3)"
    )
    assert bh.describe(rec[lstm].c_n) == "(layer=1 direction=1) hidden=4 · <LSTM>.c_n · float32 cpu"
    assert bh.describe(rec) == "Recorder: hooks removed from 1, 1 called (<LSTM>)"


def test_rearrange_errors_of_a_tensor_without_origin(seed_call: Any) -> None:
    record, _, h_n, _ = seed_call
    anonymous = bh.AnnotatedTensor(h_n, record.h_n.axes)
    assert anonymous.origin == ""
    with pytest.raises(
        ValueError,
        match=r"^cannot rearrange \(\(layer=2 direction=2\) batch=1 hidden=4\) to 'layer x': "
        r"unknown dimension 'x'",
    ):
        anonymous.rearrange("layer x")
    fwd, _ = anonymous.split_directions()
    assert fwd.origin == ""
    with pytest.raises(
        ValueError,
        match=r"^cannot split directions of this tensor: expected a 'direction' dimension, "
        r"got 'layer batch hidden'\. Was it already split\?$",
    ):
        fwd.split_directions()


def test_the_repr_of_a_view_says_where_it_was_taken_and_its_notes() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    rec = bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(5, 2, 3))
    last = rec[lstm].h_n[-1]
    assert torch.equal(last.tensor, h_n[-1])  # what the repr names is that row
    assert repr(last) == (
        "AnnotatedTensor[batch=2, hidden=4] <LSTM>.h_n: layer 1, backward · backward direction only"
    )
    # the layer's own tensor keeps the plain form: its names say it all
    assert repr(rec[lstm].h_n) == "AnnotatedTensor[(layer=2 direction=2), batch=2, hidden=4]"
    rec.remove()
