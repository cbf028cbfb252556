"""Every computation of a hooked layer is recorded, however it is invoked: `module(x)`,
`module.forward(x)` from a wrapper (weight drop), and a subclass whose own `forward`
packs or reorders before calling the parent's, with lengths passed as a keyword.

The layout identities are the oracle: each record's `check()` proves that its `out` and
`h_n` agree where each direction ends, and its lengths are the ones the call was given.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

KINDS = ["LSTM", "GRU", "RNN"]


class WeightDrop(nn.Module):
    """As salesforce/awd-lstm-lm's weight_drop.py: the wrapped layer's `forward` is called
    directly, so torch runs none of its forward hooks."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any) -> Any:
        return self.module.forward(*args)


def packing(kind: str) -> type[nn.RNNBase]:
    """An `nn.<kind>` subclass that packs inside its own forward, lengths as a keyword."""
    parent: type[nn.RNNBase] = getattr(nn, kind)

    class Packing(parent):  # type: ignore[valid-type,misc]
        def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Any:
            packed = pack_padded_sequence(
                x, lengths, batch_first=self.batch_first, enforce_sorted=False
            )
            out, state = super().forward(packed)
            out, _ = pad_packed_sequence(
                out,
                batch_first=self.batch_first,
                total_length=x.shape[1 if self.batch_first else 0],
            )
            return out, state

    return Packing


def quiet() -> Any:
    caught = warnings.catch_warnings()
    caught.__enter__()
    warnings.simplefilter("error")
    return caught


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", [1, 2])
def test_a_layer_called_by_its_forward_from_a_wrapper_is_recorded(kind: str, layers: int) -> None:
    torch.manual_seed(0)
    model = WeightDrop(getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=True))
    bare = WeightDrop(getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=True))
    bare.load_state_dict(model.state_dict())
    rec = bh.attach_hooks(model)
    x = torch.randn(5, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            out, state = model(x)
    assert rec.calls("module") == 3
    rec["module"].check()
    assert torch.equal(out, bare(x)[0])  # hooks change no output
    h_n = state[0] if isinstance(state, tuple) else state
    named = bh.annotation_of(h_n)
    assert named is not None
    assert named.pattern == "(layer direction) batch hidden"
    assert named.origin == "module.h_n"
    assert torch.equal(rec["module"].h_n.tensor, h_n)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [True, False])
def test_a_subclass_packing_in_its_forward_is_recorded_with_the_lengths_it_was_given(
    kind: str, batch_first: bool
) -> None:
    torch.manual_seed(0)
    layer = packing(kind)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    rec = bh.attach_hooks(layer)
    lengths = torch.tensor([2, 6, 4])  # unsorted
    x = torch.randn(3, 6, 3) if batch_first else torch.randn(6, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, state = layer(x, lengths=lengths)
    record = rec[layer]
    assert rec.calls(layer) == 1  # the parent's call only, not the subclass's as well
    assert record.packed
    assert torch.equal(record.lengths, lengths)
    record.check()
    # what the subclass returned is what the parent computed, padded as the record's out
    assert torch.equal(record.out.tensor, out)
    h_n = state[0] if isinstance(state, tuple) else state
    assert torch.equal(record.h_n.tensor, h_n)


def test_a_subclass_called_by_its_own_forward_is_recorded_once() -> None:
    layer = packing("LSTM")(3, 4, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(layer)
    layer.forward(torch.randn(2, 5, 3), lengths=torch.tensor([5, 3]))
    assert rec.calls(layer) == 1
    assert torch.equal(rec[layer].lengths, torch.tensor([5, 3]))
    layer(torch.randn(2, 5, 3), lengths=torch.tensor([2, 5]))  # then as module(...)
    assert rec.calls(layer) == 2
    assert torch.equal(rec[layer].lengths, torch.tensor([2, 5]))


class FailsAfterTheCall(nn.GRU):
    def forward(self, x: torch.Tensor, fail: bool = False) -> Any:  # type: ignore[override]
        result = super().forward(x)
        if fail:
            raise RuntimeError("after the parent's call")
        return result


def test_a_subclass_raising_after_the_parents_call_leaves_later_calls_recorded() -> None:
    layer = FailsAfterTheCall(3, 4)
    rec = bh.attach_hooks(layer)
    x = torch.randn(5, 2, 3)
    with pytest.raises(RuntimeError, match="after the parent's call"):
        layer(x, fail=True)
    assert rec.calls(layer) == 1  # the parent did run: its call is recorded
    for _ in range(6):  # more than the few enclosing calls a hook holds
        layer(x)
    assert rec.calls(layer) == 7
    rec[layer].check()


def test_calls_past_the_forward_hook_stop_being_recorded_once_the_hooks_are_removed() -> None:
    model = WeightDrop(nn.LSTM(3, 4))
    with bh.attach_hooks(model) as rec:
        model(torch.randn(5, 2, 3))
    model(torch.randn(5, 2, 3))
    assert rec.calls("module") == 1


def test_a_layer_not_hooked_runs_as_before_beside_a_hooked_one() -> None:
    torch.manual_seed(0)
    hooked, plain = nn.LSTM(3, 4), nn.LSTM(3, 4)
    bh.attach_hooks(hooked)
    x = torch.randn(5, 2, 3)
    expected = torch._VF.lstm(
        x, (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)), plain._flat_weights, True, 1, 0.0,
        False, False, False,
    )[0]  # fmt: skip
    assert torch.equal(plain.forward(x)[0], expected)
    assert torch.equal(plain(x)[0], expected)


def test_a_saved_wrapper_model_carries_nothing_of_the_library() -> None:
    model = WeightDrop(nn.GRU(3, 4))
    bh.attach_hooks(model)
    model(torch.randn(5, 2, 3))
    assert b"bilstm_hooks" not in pickle.dumps(model)


def test_a_layer_used_without_any_call_says_how_its_weights_show_it() -> None:
    layer = nn.LSTM(3, 4)
    rec = bh.attach_hooks(nn.Sequential(layer))
    out = torch._VF.lstm(  # what some code runs: torch's function, not the layer
        torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)),
        layer._flat_weights, True, 1, 0.0, False, False, False,
    )[0]  # fmt: skip
    out.sum().backward()
    unseen = r"no call of it was seen, though its weights were used since it was hooked"
    with pytest.raises(LookupError, match=unseen + r" \(they have gradients they did not have"):
        rec["0"]
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    with pytest.raises(LookupError, match=r"\(they changed in place, as an optimizer step"):
        rec["0"]


def test_a_layer_never_used_still_says_it_was_not_called() -> None:
    rec = bh.attach_hooks(nn.LSTM(3, 4))
    with pytest.raises(LookupError, match=r"it has not been called since it was hooked"):
        rec[""]
