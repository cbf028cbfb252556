"""The layer's entrance guarded (issue 19, item 3): a LayoutWarning, at the user's line, for
a state whose rows hold the wrong thing, a state holding an earlier batch's graph, and a
batch-first tensor into a time-major layer; silence on the correct hand-offs.

The oracle of the rows check is the values: which row of the encoder's `h_n` each row
the decoder is given equals, found by comparing them.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import bilstm_hooks as bh

TYPES = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}
HIDDEN, BATCH, TOKENS, FEATURES = 4, 3, 5, 2


def entrance_warnings(run: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [w for w in caught if issubclass(w.category, bh.LayoutWarning)]


def handed(h_n: torch.Tensor, form: str, layers: int, directions: int) -> torch.Tensor | None:
    """The state a decoder is given, made from an encoder's `h_n` by one public form."""
    rows = h_n.shape[0]
    if form == "direct":
        return h_n
    if form == "head":
        return h_n[: min(rows, 2)]
    if form == "tail":
        return h_n[-min(rows, 2) :]
    if form in ("forward rows", "backward rows"):
        return h_n[0::2] if form == "forward rows" and directions == 2 else h_n[1::2]
    if form == "summed directions":
        return h_n.view(layers, directions, *h_n.shape[1:]).sum(1)
    if form == "last layer":
        return h_n[-directions:]
    raise AssertionError(form)


def sources(state: torch.Tensor, h_n: torch.Tensor, directions: int) -> list[Any]:
    """Which `(layer, direction)` of the encoder each row of `state` holds, by value: a
    row of `h_n`, or the sum of one layer's two directions, `(layer, "both")`."""
    found: list[Any] = []
    for row in state:
        same = [i for i in range(h_n.shape[0]) if torch.equal(row, h_n[i])]
        summed = [
            layer
            for layer in range(h_n.shape[0] // directions)
            if directions == 2 and torch.allclose(row, h_n[2 * layer] + h_n[2 * layer + 1])
        ]
        if len(same) == 1:
            found.append((same[0] // directions, same[0] % directions))
        else:
            found.append((summed[0], "both") if len(summed) == 1 else None)
    return found


def misread(rows: list[Any], directions: int) -> bool:
    """Whether the decoder reads two rows as different layers that are one layer's two
    directions, or as one layer's two directions that are two layers."""
    for r1 in range(len(rows)):
        for r2 in range(r1 + 1, len(rows)):
            a, b = rows[r1], rows[r2]
            if a is None or b is None:
                continue
            layers_read = r1 // directions != r2 // directions
            directions_read = r1 % directions != r2 % directions
            if layers_read and not directions_read and a[0] == b[0] and a[1] != b[1]:
                return True
            if not layers_read and directions_read and a[0] != b[0] and a[1] == b[1]:
                return True
    return False


FORMS = (
    "direct", "head", "tail", "forward rows", "backward rows", "summed directions", "last layer",
)  # fmt: skip


@given(
    kind=st.sampled_from(sorted(TYPES)),
    encoder_layers=st.integers(1, 3),
    encoder_bidirectional=st.booleans(),
    decoder_layers=st.integers(1, 3),
    decoder_bidirectional=st.booleans(),
    form=st.sampled_from(FORMS),
    follow=st.booleans(),
)
def test_a_state_warns_exactly_when_its_rows_are_misread(
    kind: str,
    encoder_layers: int,
    encoder_bidirectional: bool,
    decoder_layers: int,
    decoder_bidirectional: bool,
    form: str,
    follow: bool,
) -> None:
    cls = TYPES[kind]
    encoder = cls(FEATURES, HIDDEN, encoder_layers, bidirectional=encoder_bidirectional)
    decoder = cls(FEATURES, HIDDEN, decoder_layers, bidirectional=decoder_bidirectional)
    bh.attach_hooks(nn.ModuleDict({"encoder": encoder, "decoder": decoder}))
    directions = 2 if encoder_bidirectional else 1
    x = torch.randn(TOKENS, BATCH, FEATURES)
    _out, state = encoder(x)
    h_n, c_n = state if kind == "LSTM" else (state, None)
    with bh.follow() if follow else warnings.catch_warnings():
        h_0 = handed(h_n, form, encoder_layers, directions)
        c_0 = None if c_n is None else handed(c_n, form, encoder_layers, directions)
    rows = decoder_layers * (2 if decoder_bidirectional else 1)
    if h_0 is None or h_0.shape[0] != rows:
        return  # torch refuses the shape: the layer's own error, not a warning
    hx = h_0 if c_0 is None else (h_0, c_0)
    caught = entrance_warnings(lambda: decoder(x, hx))
    expected = misread(sources(h_0, h_n, directions), 2 if decoder_bidirectional else 1)
    named = bh.annotation_of(h_0) is not None  # a copy not followed has none: never warned
    if form != "summed directions":  # a view: named, followed or not
        assert named
    messages = [str(w.message) for w in caught]
    assert bool(messages) == (expected and named), (messages, sources(h_0, h_n, directions))
    if expected and named:
        assert len(messages) == 1
        assert messages[0].startswith("decoder reads the ")


def test_the_tutorial_hand_off_warns_at_the_line_that_passes_the_state() -> None:
    encoder = nn.GRU(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    decoder = nn.GRU(FEATURES, HIDDEN, num_layers=2)
    bh.attach_hooks(nn.ModuleDict({"encoder": encoder, "decoder": decoder}))
    x = torch.randn(TOKENS, BATCH, FEATURES)
    _out, encoder_hidden = encoder(x)
    decoder_hidden = encoder_hidden[:2]  # the chatbot tutorial's hand-off
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    caught = entrance_warnings(lambda: decoder(x, decoder_hidden))
    (warning,) = caught
    assert warning.filename == __file__
    assert warning.lineno == line
    message = str(warning.message)
    assert "they hold encoder.h_n's forward and backward directions" in message
    assert "encoder's directions become decoder's layers" in message


def test_a_decoder_from_a_linear_bridge_or_its_own_state_stays_silent() -> None:
    encoder = nn.LSTM(FEATURES, HIDDEN, bidirectional=True)
    decoder = nn.LSTM(FEATURES, HIDDEN, num_layers=2)
    bridge = nn.Linear(2 * HIDDEN, HIDDEN)
    model = nn.ModuleDict({"encoder": encoder, "decoder": decoder, "bridge": bridge})
    bh.attach_hooks(model, follow=True)
    x = torch.randn(TOKENS, BATCH, FEATURES)

    def run() -> None:
        with bh.follow():
            _out, (h_n, _c_n) = encoder(x)
            joined = torch.tanh(bridge(torch.cat([h_n[-2], h_n[-1]], -1)))
            state = (joined.expand(2, -1, -1).contiguous(), torch.zeros(2, BATCH, HIDDEN))
            for _ in range(3):  # the decoder's own state, step after step
                _step, state = decoder(x[:1], state)

    assert entrance_warnings(run) == []


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_a_batch_first_output_into_a_time_major_layer_warns(kind: str) -> None:
    cls = TYPES[kind]
    first = cls(FEATURES, HIDDEN, batch_first=True)
    second = cls(HIDDEN, HIDDEN)
    bh.attach_hooks(nn.ModuleDict({"first": first, "second": second}))
    features = first(torch.randn(BATCH, TOKENS, FEATURES))[0]
    (warning,) = entrance_warnings(lambda: second(features))
    assert str(warning.message).startswith(
        "second (batch_first=False) reads its input as token batch feature, but `features` "
        "is batch token (direction hidden) (first.out): its axis 0 holds batch, not token. "
        "Pass features.transpose(0, 1)"
    )
    assert entrance_warnings(lambda: second(features.transpose(0, 1))) == []


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_a_time_major_output_into_a_batch_first_layer_warns(kind: str) -> None:
    cls = TYPES[kind]
    first, second = cls(FEATURES, HIDDEN), cls(HIDDEN, HIDDEN, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"first": first, "second": second}))
    with bh.follow():
        features = torch.relu(first(torch.randn(TOKENS, BATCH, FEATURES))[0])  # followed
    (warning,) = entrance_warnings(lambda: second(features))
    assert "(batch_first=True) reads its input as batch token feature" in str(warning.message)
    assert entrance_warnings(lambda: second(features.transpose(0, 1))) == []


def test_one_input_read_two_ways_by_two_layers_is_not_evidence() -> None:
    first = nn.GRU(FEATURES, HIDDEN, batch_first=True)
    second = nn.GRU(FEATURES, HIDDEN)
    rec = bh.attach_hooks(nn.ModuleDict({"first": first, "second": second}))
    x = torch.randn(TOKENS, TOKENS, FEATURES)
    first(x)
    assert rec["first"].input.pattern == "batch token feature"  # first's reading of x
    assert entrance_warnings(lambda: second(x)) == []


def language_model_steps(
    kind: str, detach: bool, failures: list[RuntimeError], steps: int = 3
) -> list[Any]:
    lm = TYPES[kind](FEATURES, HIDDEN, num_layers=2)
    bh.attach_hooks(nn.ModuleDict({"lm": lm}))
    optimizer = torch.optim.SGD(lm.parameters(), lr=0.1)
    hidden: Any = None
    caught = []
    for _ in range(steps):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            output, hidden = lm(torch.randn(TOKENS, BATCH, FEATURES), hidden)
        caught += [w for w in seen if issubclass(w.category, bh.LayoutWarning)]
        try:
            output.sum().backward()
        except RuntimeError as error:  # what the warning foretells, one line later
            failures.append(error)
        optimizer.step()
        optimizer.zero_grad()
        if detach:  # repackage_hidden
            hidden = tuple(h.detach() for h in hidden) if kind == "LSTM" else hidden.detach()
    return caught


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_a_state_not_detached_between_batches_warns_at_the_loop(kind: str) -> None:
    failures: list[RuntimeError] = []
    caught = language_model_steps(kind, detach=False, failures=failures, steps=2)
    assert len(caught) == 1  # batch 2 gets batch 1's graph, after an optimizer step
    assert len(failures) == 1  # and its backward fails, as the warning says it will
    assert "backward through the graph a second time" in str(failures[0])
    (line,) = {w.lineno for w in caught}
    source = inspect.getsource(language_model_steps).splitlines()
    loop_line = line - language_model_steps.__code__.co_firstlineno
    assert "lm(torch.randn(TOKENS, BATCH, FEATURES), hidden)" in source[loop_line]
    message = str(caught[0].message)
    assert message.startswith("lm's h_0 still holds the autograd graph of an earlier batch: ")
    assert "Detach the state between batches" in message


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_a_detached_state_warns_about_nothing(kind: str) -> None:
    failures: list[RuntimeError] = []
    assert language_model_steps(kind, detach=True, failures=failures) == []
    assert failures == []


def test_a_decoders_state_carried_over_its_steps_in_one_batch_warns_about_nothing() -> None:
    decoder = nn.LSTM(FEATURES, HIDDEN)
    bh.attach_hooks(decoder)
    optimizer = torch.optim.SGD(decoder.parameters(), lr=0.1)

    def batch() -> None:
        state = None
        loss = torch.zeros(())
        for _ in range(4):  # the graph carried over steps: right, within a batch
            step, state = decoder(torch.randn(1, BATCH, FEATURES), state)
            loss = loss + step.sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    assert entrance_warnings(lambda: [batch() for _ in range(3)]) == []


def test_the_checks_take_no_graph_and_change_no_output() -> None:
    encoder, decoder = nn.GRU(FEATURES, HIDDEN, bidirectional=True), nn.GRU(FEATURES, HIDDEN, 2)
    x = torch.randn(TOKENS, BATCH, FEATURES)
    _out, h_n = encoder(x)
    plain = decoder(x, h_n)[0]
    bh.attach_hooks(nn.ModuleDict({"encoder": encoder, "decoder": decoder}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bh.LayoutWarning)
        hooked = decoder(x, h_n)[0]
    assert torch.equal(plain, hooked)


def test_a_state_passed_as_a_list_is_checked_too() -> None:
    lm = nn.LSTM(FEATURES, HIDDEN)
    bh.attach_hooks(nn.ModuleDict({"lm": lm}))
    optimizer = torch.optim.SGD(lm.parameters(), lr=0.1)
    output, (h, c) = lm(torch.randn(TOKENS, BATCH, FEATURES))
    output.sum().backward()
    optimizer.step()
    states = [h, c]  # torch takes a list for (h_0, c_0)
    (warning,) = entrance_warnings(lambda: lm(torch.randn(TOKENS, BATCH, FEATURES), states))
    assert "`states[0]` is lm's h_n" in str(warning.message)
    assert (
        entrance_warnings(
            lambda: lm(torch.randn(TOKENS, BATCH, FEATURES), [h.detach(), c.detach()])
        )
        == []
    )
