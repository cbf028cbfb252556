"""Labels of same-named layers of different models: prefixed with the model's class
while both are hooked, and only then (issue 18, item 7)."""

from __future__ import annotations

import gc

import pytest
import torch
from torch import nn

import bilstm_hooks as bh


class EncoderRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_n = self.gru(x)
        return out, h_n


class LuongAttnDecoderRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 4, num_layers=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_n = self.gru(x)
        last = h_n[-1]  # followed: a derived view keeps the label
        return out, last


def _origin(tensor: torch.Tensor) -> str:
    return bh.describe(tensor).split(" · ")[1]


@pytest.fixture(autouse=True)
def _no_recorders_left() -> None:
    gc.collect()  # earlier tests' models, hooked and dropped


def test_two_models_with_a_gru_each_read_apart() -> None:
    torch.manual_seed(0)
    encoder, decoder = EncoderRNN(), LuongAttnDecoderRNN()
    x = torch.randn(5, 2, 3)
    encoding = bh.attach_hooks(encoder)
    decoding = bh.attach_hooks(decoder, follow=True)
    out, h_n = encoder(x)
    decoded, last = decoder(x)
    assert _origin(out) == "EncoderRNN.gru.out"
    assert _origin(h_n) == "EncoderRNN.gru.h_n"
    assert _origin(decoded) == "LuongAttnDecoderRNN.gru.out"
    assert _origin(last) == "LuongAttnDecoderRNN.gru.h_n: layer 1"
    assert encoding["gru"].label == "EncoderRNN.gru"
    assert decoding["gru"].label == "LuongAttnDecoderRNN.gru"
    assert "'EncoderRNN.gru'" in repr(encoding["gru"])
    # each label names the layer that computed the tensor: the values say so
    assert torch.equal(encoding["gru"].out, out)
    assert not torch.equal(decoding["gru"].out, out)
    assert torch.equal(decoding["gru"].h_n[-1], last)
    assert encoding.names == decoding.names == ("gru",)  # the keys stay the qualified names


def test_a_clash_relabels_the_earlier_model_from_its_next_call() -> None:
    encoder, decoder = EncoderRNN(), LuongAttnDecoderRNN()
    x = torch.randn(5, 2, 3)
    rec = bh.attach_hooks(encoder)
    before, _ = encoder(x)
    assert _origin(before) == "gru.out"
    decoding = bh.attach_hooks(decoder)
    after, _ = encoder(x)
    assert _origin(before) == "gru.out"  # what was shown stays as shown
    assert _origin(after) == "EncoderRNN.gru.out"
    assert rec["gru"].label == "EncoderRNN.gru"
    decoding.remove()


def test_one_model_alone_keeps_its_plain_labels() -> None:
    encoder = EncoderRNN()
    rec = bh.attach_hooks(encoder)
    out, _ = encoder(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"
    assert rec["gru"].label == "gru"


def test_one_model_hooked_twice_is_no_clash() -> None:
    encoder = EncoderRNN()
    first, second = bh.attach_hooks(encoder), bh.attach_hooks(encoder)
    out, _ = encoder(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"
    assert first["gru"].label == second["gru"].label == "gru"


def test_different_names_are_no_clash() -> None:
    encoder = EncoderRNN()
    wrapped = nn.ModuleDict({"encoder": EncoderRNN()})
    bh.attach_hooks(encoder), bh.attach_hooks(wrapped)
    out, _ = encoder(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"


def test_a_dropped_model_is_no_clash() -> None:
    def hooked_and_dropped() -> None:
        encoder = EncoderRNN()
        bh.attach_hooks(encoder)
        encoder(torch.randn(5, 2, 3))  # its hooks and it form a cycle: not freed at once

    hooked_and_dropped()
    decoder = LuongAttnDecoderRNN()
    bh.attach_hooks(decoder)
    out, _ = decoder(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"


def test_a_removed_recorder_is_no_clash() -> None:
    encoder, decoder = EncoderRNN(), LuongAttnDecoderRNN()
    with bh.attach_hooks(encoder) as encoding:
        encoder(torch.randn(5, 2, 3))
    decoding = bh.attach_hooks(decoder)
    out, _ = decoder(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"
    assert encoding["gru"].label == decoding["gru"].label == "gru"


def test_two_models_of_one_class_stay_alike() -> None:
    # the class cannot tell them apart: the labels stay as they are, not made up
    first, second = EncoderRNN(), EncoderRNN()
    bh.attach_hooks(first), bh.attach_hooks(second)
    out, _ = second(torch.randn(5, 2, 3))
    assert _origin(out) == "gru.out"
