"""Slicing or striding a padded output along `token` remaps its lengths (each sequence's
kept positions below its length), the padding checks judge with them, and a slice of size
1 keeps its axis and its name."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh

TOKENS = 6


def padded_output(kind: str, layers: int, both: bool, batch_first: bool, lengths: list[int]):
    """A followed padded output of a real packed batch with unsorted `lengths`."""
    torch.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=both, batch_first=batch_first)
    bh.attach_hooks(layer, follow=True)
    x = torch.randn(len(lengths), TOKENS, 3)
    x = x if batch_first else x.transpose(0, 1)
    packed = pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
    )
    with bh.follow():
        out, _ = layer(packed)
        padded, _ = pad_packed_sequence(out, batch_first=batch_first)
    return padded


def along_token(padded: torch.Tensor, batch_first: bool, index: object) -> torch.Tensor:
    return padded[:, index] if batch_first else padded[index]


def oracle(lengths: list[int], cut: slice) -> list[int]:
    """What pad_packed_sequence gives for the subsampled sequences: per sequence, the
    kept token indices below its length."""
    return [sum(1 for i in range(TOKENS)[cut] if i < n) for n in lengths]


KINDS = st.sampled_from(["LSTM", "GRU", "RNN"])
LENGTHS = st.lists(st.integers(1, TOKENS), min_size=2, max_size=4).map(
    lambda ns: [*ns[:-1], TOKENS] if TOKENS not in ns else ns
)
CUTS = st.builds(
    slice,
    st.none() | st.integers(-TOKENS - 1, TOKENS + 1),
    st.none() | st.integers(-TOKENS - 1, TOKENS + 1),
    st.none() | st.integers(1, 3),
).filter(lambda cut: len(range(TOKENS)[cut]) > 1)


@given(KINDS, st.integers(1, 3), st.booleans(), st.booleans(), LENGTHS, CUTS)
def test_a_token_slice_shows_the_lengths_of_its_kept_positions(
    kind: str, layers: int, both: bool, batch_first: bool, lengths: list[int], cut: slice
) -> None:
    padded = padded_output(kind, layers, both, batch_first, lengths)
    view = along_token(padded, batch_first, cut)
    found = bh.annotation_of(view)
    assert found is not None
    assert list(found.lengths or ()) == oracle(lengths, cut)
    assert f"lengths {list(found.lengths or ())}" in bh.describe(view)
    # the named valid positions hold the sequences' valid tokens, the rest padding (zeros)
    rows = view if batch_first else view.transpose(0, 1)
    kept = list(range(TOKENS)[cut])
    for b, n in enumerate(found.lengths or ()):
        assert all(kept[i] < lengths[b] for i in range(n))
        assert all(kept[i] >= lengths[b] for i in range(n, len(kept)))
        assert torch.count_nonzero(rows[b, n:]) == 0
        assert bool((rows[b, :n].abs().sum(-1) > 0).all())


def test_the_oracle_is_what_pad_packed_sequence_gives_the_subsampled_sequences() -> None:
    """ESPnet's RNNP subsampling, out[:, ::2], re-packed: pad_packed_sequence's lengths."""
    lengths = [5, 6, 2]
    for cut in (slice(None, None, 2), slice(1, None), slice(None, 3), slice(-2, None)):
        sequences = [torch.arange(n)[[i for i in range(TOKENS)[cut] if i < n]] for n in lengths]
        packed = nn.utils.rnn.pack_sequence(
            [s[:, None].float() if len(s) else torch.zeros(1, 1) for s in sequences],
            enforce_sorted=False,
        )
        _, got = pad_packed_sequence(packed)
        expected = [len(s) or 1 for s in sequences]  # pack_sequence needs one token
        assert got.tolist() == expected
        assert [max(n, 1) for n in oracle(lengths, cut)] == expected


@given(KINDS, st.booleans(), st.booleans(), LENGTHS, CUTS)
def test_a_mean_over_a_token_slice_warns_only_where_it_holds_padding(
    kind: str, both: bool, batch_first: bool, lengths: list[int], cut: slice
) -> None:
    padded = padded_output(kind, 1, both, batch_first, lengths)
    padding = any(i >= n for i in range(TOKENS)[cut] for n in lengths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bh.follow():
            along_token(padded, batch_first, cut).mean(1 if batch_first else 0)
    messages = [str(w.message) for w in caught if issubclass(w.category, bh.LayoutWarning)]
    assert bool(messages) == padding
    if padding:
        assert f"unequal lengths {oracle(lengths, cut)}" in messages[0]


def test_a_strided_sum_judges_with_the_remapped_lengths() -> None:
    """`out[:, ::2]` of lengths (6, 3, 5): kept 0, 2, 4; row 1 is padding at 4."""
    padded = padded_output("GRU", 1, True, True, [6, 3, 5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bh.follow():
            (padded[:, ::2] + 1).sum(1)  # padding of ones: the sum changes
    assert any("unequal lengths [3, 2, 3]" in str(w.message) for w in caught)


def test_a_slice_within_every_sequence_is_silent() -> None:
    """lengths (6, 5, 3): tokens 0 to 2 are valid everywhere: no padding in the means."""
    padded = padded_output("LSTM", 2, True, False, [6, 5, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with bh.follow():
            first = padded[:3]
            strided = padded[0:3:2]
            means = first.mean(0), strided.mean(0), strided.max(0)[0]
    assert bh.annotation_of(first).lengths == (3, 3, 3)
    assert bh.annotation_of(strided).lengths == (2, 2, 2)
    assert torch.equal(means[1], padded[[0, 2]].mean(0))


def test_indexing_a_strided_slice_warns_in_its_own_positions() -> None:
    padded = padded_output("RNN", 1, False, True, [6, 2, 4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with bh.follow():
            padded[:, ::2][:, 1]  # token 2: row 1 (length 2) is padding
            padded[:, ::2][:, 0]  # token 0: valid everywhere
    (message,) = [str(w.message) for w in caught]
    assert "at token 1 (token 2 before the slice): batch rows 1" in message
    assert "lengths [3, 1, 2]" in message


def test_fancy_indexing_along_token_keeps_no_lengths() -> None:
    padded = padded_output("LSTM", 1, True, True, [6, 2, 4])
    with bh.follow():
        picked = padded[:, torch.tensor([4, 0])]
    found = bh.annotation_of(picked)
    assert found is None or found.lengths is None


def test_a_size_one_slice_keeps_its_name_and_the_last_layers_forward_row() -> None:
    """JoeyNMT: h_n viewed as (layer, direction, batch, hidden), then `[-1:, 0]`."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm, follow=True)
    with bh.follow():
        _, (h_n, _) = lstm(torch.randn(5, 6, 3))
        layerwise = h_n.view(2, 2, 5, 4)
        last_forward = layerwise[-1:, 0]
        taken = layerwise[-1, 0]
    found = bh.annotation_of(last_forward)
    assert found is not None
    assert found.pattern == "layer batch hidden"
    assert found.at == {"direction": 0}
    assert found.sliced == {"layer": (1, 2, 1)}
    assert torch.equal(found.rearrange("layer batch hidden").tensor[0], h_n[2])
    assert bh.annotation_of(taken).pattern == "batch hidden"
    assert bh.annotation_of(taken.unsqueeze(0)).pattern == "() batch hidden"


def test_a_last_token_slice_keeps_token_and_its_lengths() -> None:
    padded = padded_output("GRU", 1, False, True, [6, 2, 4])
    warned = pytest.warns(bh.LayoutWarning, match=r"at token 5: batch rows 1, 2 are padding")
    with warned, bh.follow():
        last = padded[:, -1:]  # the same bug as out[:, -1]: still said
    found = bh.annotation_of(last)
    assert found is not None
    assert found.pattern == "batch token (direction hidden)"
    assert found.lengths == (1, 0, 0)
    assert torch.equal(last[:, 0], padded[:, 5])


def test_a_copy_of_a_one_token_slice_indexed_away_keeps_its_token() -> None:
    """`p[1:2].clone()[0]` holds token 1: its strides cannot tell an index from a squeeze of
    the one position, but the copy's slice says which position it was."""
    lstm = nn.LSTM(1, 1)
    bh.attach_hooks(lstm)
    out, _ = lstm(pack_padded_sequence(torch.randn(2, 3, 1), [2, 1, 1]))
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("ignore", bh.LayoutWarning)  # token 1 is padding for two rows
        padded, _ = pad_packed_sequence(out)
        taken = padded[1:2].clone()[0]
    assert torch.equal(taken, padded[1])  # the values: token 1's
    assert bh.annotation_of(taken).at == {"token": 1}
    assert bh.annotation_of(taken).at == bh.annotation_of(padded[1]).at
