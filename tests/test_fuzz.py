"""Every public helper against drawn arguments: it answers, or it says what it expected.

The arguments are drawn from everything a caller could pass: tensors of 0-4 axes of
sizes 0-5 in six dtypes on cpu and meta, PackedSequences, real small LSTM/GRU/RNN
layers of drawn configurations and objects that are not layers, keyword values of
every type (ints of any sign, bools, floats, strings, None, tensors, lists).

The only exceptions allowed are the documented ones, each with a message that says
what was expected; anything else (a RuntimeError from torch, an einops error, an
IndexError...) is a bug in the helper. A call that succeeds must give a result that
satisfies a property the helper promises.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

ALLOWED = (TypeError, ValueError, LookupError, bh.LayoutError)  # KeyError is a LookupError
DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.int64, torch.bool, torch.complex64)
# BILSTM_HOOKS_FUZZ_EXAMPLES=5000 searches harder than the suite's default
FUZZ = settings(max_examples=int(os.environ.get("BILSTM_HOOKS_FUZZ_EXAMPLES", 150)), deadline=None)


class Garbage:
    """An object that is nothing the helpers know."""

    def __repr__(self) -> str:
        return "Garbage()"


GARBAGE = st.sampled_from(
    [None, 0, 3, -1, 2.5, "out", b"h_n", [1, 2], (3,), {"batch": 1}, Garbage(), nn.Linear(2, 2)]
)


def labelled(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Distinct values (as far as the dtype allows) in a tensor of `shape`."""
    values = torch.arange(math.prod(shape), dtype=torch.float64).reshape(shape)
    return (values % 2).bool() if dtype == torch.bool else values.to(dtype)


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    dtype = draw(st.sampled_from(DTYPES))
    if draw(st.sampled_from(["cpu", "cpu", "meta"])) == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    return labelled(shape, dtype)


@st.composite
def layered(draw: st.DrawFn) -> torch.Tensor:
    """A tensor shaped like out or h_n: small leading axes, a last axis of d * h."""
    lead = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    last = draw(st.integers(1, 2)) * draw(st.integers(1, 4))
    return draw(tensors(shape=(*lead, last)))


@st.composite
def packed(draw: st.DrawFn) -> PackedSequence:
    """A PackedSequence of drawn lengths, any dtype, on cpu or meta."""
    batch, tokens = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(1, tokens), min_size=batch, max_size=batch))
    width = draw(st.integers(1, 2)) * draw(st.integers(1, 3))
    x = draw(tensors(shape=(batch, tokens, width)))
    return pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)


@st.composite
def layers(draw: st.DrawFn) -> nn.Module:
    """A real recurrent layer of a drawn configuration."""
    kind = draw(st.sampled_from([nn.LSTM, nn.GRU, nn.RNN]))
    hidden = draw(st.integers(1, 4))
    extra = {}
    if kind is nn.LSTM and draw(st.booleans()) and hidden > 1:
        extra["proj_size"] = draw(st.integers(1, hidden - 1))
    return kind(
        draw(st.integers(1, 3)),
        hidden,
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        **extra,
    )


def sizes_of(layer: nn.Module) -> dict[str, Any]:
    assert isinstance(layer, nn.RNNBase)
    return {
        "directions": 2 if layer.bidirectional else 1,
        "layers": layer.num_layers,
        "hidden": getattr(layer, "proj_size", 0) or layer.hidden_size,
        "batch_first": layer.batch_first,
    }


def mostly(right: Any) -> st.SearchStrategy[Any]:
    """The right value for a keyword most of the time, else anything."""
    return st.one_of(st.just(right), st.just(right), st.just(right), VALUES)


@st.composite
def coherent(draw: st.DrawFn, role: str, names: tuple[str, ...]) -> tuple[Any, Any, dict[str, Any]]:
    """A tensor shaped as a drawn layer's out or h_n, its lengths (for out) and keywords
    that mostly fit it: `(tensor, lengths, keywords)`."""
    layer = draw(layers())
    sizes = sizes_of(layer)
    d, h, n_layers = sizes["directions"], sizes["hidden"], sizes["layers"]
    batch = draw(st.lists(st.integers(0, 4), max_size=1))
    lengths = None
    if role == "out":
        tokens = draw(st.one_of(st.integers(1, 4), st.just(0)))
        first = draw(mostly(sizes["batch_first"]))  # a padded out may be in either layout
        shape = (*batch, tokens) if first is not False else (tokens, *batch)
        tensor = draw(tensors(shape=(*shape, d * h)))
        if batch and draw(st.booleans()):
            valid = st.lists(st.integers(1, max(tokens, 1)), min_size=batch[0], max_size=batch[0])
            lengths = draw(st.one_of(valid, valid.map(torch.tensor), LENGTHS))
    else:
        tensor = draw(tensors(shape=(n_layers * d, *batch, h)))
    kwargs = {}
    with_module = draw(st.booleans())
    for name in names:
        if name == "module" and with_module:
            kwargs[name] = draw(mostly(layer))
        elif name != "module" and draw(st.integers(0, 3)) != 3:
            kwargs[name] = draw(mostly(sizes[name]))
    if draw(st.integers(0, 9)) == 9:  # hypothesis draws the ends of a range more often
        kwargs.update(draw(UNKNOWN))
    return tensor, lengths, kwargs


@st.composite
def calls(draw: st.DrawFn, role: str, names: tuple[str, ...]) -> tuple[Any, Any, dict[str, Any]]:
    """Two in three coherent calls, the others anything at all."""
    if draw(st.integers(0, 2)) != 2:
        return draw(coherent(role, names))
    kwargs = draw(keywords(names, VALUES))
    if draw(st.booleans()):
        kwargs["module"] = draw(MODULES)
    return draw(ANY_OUT), draw(LENGTHS), kwargs


ANY_OUT = st.one_of(tensors(), layered(), layered(), packed(), GARBAGE)
MODULES = st.one_of(st.none(), st.none(), layers(), layers(), GARBAGE)
VALUES = st.one_of(
    st.none(),
    st.integers(-2, 4),
    st.integers(1, 2),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    tensors(),
    st.lists(st.integers(-1, 6), max_size=5),
    GARBAGE,
)
LENGTHS = st.one_of(
    st.none(),
    st.lists(st.integers(-1, 6), max_size=5),
    st.lists(st.integers(1, 5), min_size=1, max_size=5).map(torch.tensor),
    st.lists(st.booleans(), min_size=1, max_size=4),
    tensors(),
    VALUES,
)


UNKNOWN = st.dictionaries(
    st.sampled_from(["num_directions", "hidden_size", "batchfirst", "lenghts"]),
    VALUES,
    min_size=1,
    max_size=1,
)


def keywords(names: tuple[str, ...], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Some of `names`, each with a drawn value; now and then a keyword no helper takes."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(names, values))
    typo = st.tuples(known, UNKNOWN).map(lambda p: {**p[0], **p[1]})
    return st.one_of(known, known, known, known, known, known, known, typo)


def attempt(helper: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The helper's result, or None after an allowed error that says what it expected."""
    try:
        result = helper(*args, **kwargs)
    except ALLOWED as caught:
        error = caught
    else:
        event("succeeded")
        return result
    event(f"{type(error).__name__}: {str(error)[:60]}")
    message = str(error)
    assert message, f"{type(error).__name__} without a message"
    assert "expected" in message, f"{type(error).__name__}: {message}"
    return None


def plain(out: object) -> torch.Tensor:
    assert isinstance(out, (torch.Tensor, PackedSequence))
    return out.data if isinstance(out, PackedSequence) else out


def directions_of(kwargs: dict[str, Any]) -> int:
    """The directions a successful call was told (explicitly or by its module)."""
    if type(kwargs.get("directions")) is int:
        return int(kwargs["directions"])
    module = kwargs["module"]
    assert isinstance(module, nn.RNNBase), "succeeded without knowing directions"
    return 2 if module.bidirectional else 1


def real(t: torch.Tensor) -> bool:
    return t.device.type != "meta"


@FUZZ
@given(call=calls("out", ("module", "directions", "hidden")))
def test_split_directions(call: tuple[Any, Any, dict[str, Any]]) -> None:
    out, _, kwargs = call
    halves = attempt(bh.split_directions, out, **kwargs)
    if halves is None:
        return
    tensor = plain(out)
    assert len(halves) == directions_of(kwargs)
    assert all(half.shape == halves[0].shape for half in halves)
    joined = torch.cat(halves, dim=-1)
    assert joined.shape == tensor.shape
    if real(tensor):
        assert torch.equal(joined, tensor)
        if tensor.numel():
            assert halves[0].data_ptr() == tensor.data_ptr()  # a view


@FUZZ
@given(call=calls("h_n", ("module", "layers", "directions")), final=st.booleans())
def test_split_layers_and_final_representation(
    call: tuple[Any, Any, dict[str, Any]], final: bool
) -> None:
    h_n, _, kwargs = call
    helper = bh.final_representation if final else bh.split_layers
    result = attempt(helper, h_n, **kwargs)
    if result is None:
        return
    assert isinstance(h_n, torch.Tensor)
    d = directions_of(kwargs)
    if final:
        # cat(h_n[-2], h_n[-1]) when bidirectional, h_n[-1] otherwise
        expected = torch.cat(list(h_n[-d:]), dim=-1)
        assert result.shape == expected.shape
        if real(h_n):
            assert torch.equal(result, expected)
    else:
        assert result.shape[1] == d
        assert result.shape[0] * d == h_n.shape[0]
        assert result.shape[2:] == h_n.shape[1:]
        if real(h_n):
            assert torch.equal(result.reshape(h_n.shape), h_n)


@FUZZ
@given(call=calls("out", ("module", "batch_first", "directions")))
def test_last_outputs(call: tuple[Any, Any, dict[str, Any]]) -> None:
    out, lengths, kwargs = call
    result = attempt(bh.last_outputs, out, lengths, **kwargs)
    if result is None:
        return
    d = directions_of(kwargs)
    tensor = plain(out)
    assert result.dtype == tensor.dtype
    assert result.device == tensor.device
    assert result.shape[-1] == tensor.shape[-1]
    if isinstance(out, PackedSequence):
        padded, packed_lengths = pad_packed_sequence(out, batch_first=True)
        candidates = [(padded, packed_lengths.tolist())]
    elif tensor.dim() == 2:
        candidates = [(tensor.unsqueeze(0), [tensor.shape[0]])]
        result = result.unsqueeze(0)
    else:
        first = kwargs.get("batch_first")
        layouts = [first] if isinstance(first, bool) else [True, False]
        candidates = []
        for first in layouts:
            padded = tensor if first else tensor.transpose(0, 1)
            full = [padded.shape[1]] * padded.shape[0]
            candidates.append((padded, full if lengths is None else [int(n) for n in lengths]))
    assert any(agrees(result, padded, n, d) for padded, n in candidates), (
        "no layout gives this result"
    )


def agrees(result: torch.Tensor, padded: torch.Tensor, lengths: list[int], d: int) -> bool:
    """Forward half at each row's last valid token, backward half at token 0."""
    if result.shape[0] != padded.shape[0] or len(lengths) != padded.shape[0]:
        return False
    if not real(padded):
        return True
    h = padded.shape[-1] // d
    for b, n in enumerate(lengths):
        if not 1 <= n <= padded.shape[1]:
            return False
        halves = [padded[b, n - 1, :h]] + ([padded[b, 0, h:]] if d == 2 else [])
        if not torch.equal(result[b], torch.cat(halves)):
            return False
    return True


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_last_outputs_of_real_calls_equals_final_representation(
    data: st.DataObject, config_strategy: Any, run: Any
) -> None:
    """Packed, padded in either layout, and the layer's own out: always the h_n oracle."""
    cfg = data.draw(config_strategy, label="config")
    case = run(cfg)
    layer, d = case.layer, cfg.directions
    final = bh.final_representation(case.h_n, module=layer)
    assert torch.equal(final, torch.cat(list(case.h_n[-d:]), dim=-1))
    assert torch.equal(bh.last_outputs(case.out, module=layer), final)
    if not cfg.batched:
        assert torch.equal(bh.last_outputs(case.out, directions=d), final)
        return
    if cfg.packed:
        time_major, lengths = pad_packed_sequence(case.out)  # the default, whatever the module
        batch_major, _ = pad_packed_sequence(case.out, batch_first=True)
    else:
        batch_major = case.out if cfg.batch_first else case.out.transpose(0, 1)
        time_major = batch_major.transpose(0, 1)
        lengths = torch.full((cfg.batch,), cfg.tokens)
    for padded, first in ((time_major, False), (batch_major, True)):
        got = bh.last_outputs(padded, lengths, module=layer, batch_first=first)
        assert torch.equal(got, final)
        ambiguous = padded.shape[0] == padded.shape[1]
        known = bh.annotation_of(padded) is not None
        event(f"tokens == batch, {'annotated' if known else 'plain'}" if ambiguous else "pinned")
        if ambiguous and not known:
            with pytest.raises(ValueError, match=r"is ambiguous with \d+ lengths"):
                bh.last_outputs(padded, lengths, module=layer)
        else:  # the lengths (or the tensor's own annotation) pin the batch axis
            assert torch.equal(bh.last_outputs(padded, lengths, module=layer), final)
            assert torch.equal(bh.last_outputs(padded, lengths.tolist(), directions=d), final)
