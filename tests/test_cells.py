"""Cells: `nn.LSTMCell`, `nn.GRUCell` and `nn.RNNCell` hooked, each call named, a loop of
calls read as one sequence with a `token` axis and checked against the one-layer layer
with the same weights. The oracle is the values: a step's recorded state is what the
cell returned, the stacked steps are the calls, and the loop equals `nn.LSTM`'s call."""

from __future__ import annotations

import copy
import io
import pickle
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import bilstm_hooks as bh

CELLS = (nn.LSTMCell, nn.GRUCell, nn.RNNCell)
LAYERS = {nn.LSTMCell: nn.LSTM, nn.GRUCell: nn.GRU, nn.RNNCell: nn.RNN}


def run_loop(cell: nn.Module, xs: list[torch.Tensor], state: object = None) -> list[object]:
    """Step `cell` over `xs`, each step given the state the step before returned."""
    returned = []
    for x in xs:
        state = cell(x, state)
        returned.append(state)
    return returned


def h_of(state: object) -> torch.Tensor:
    return state[0] if isinstance(state, tuple) else state  # type: ignore[index,return-value]


@given(
    kind=st.sampled_from(CELLS),
    batch=st.one_of(st.none(), st.integers(1, 3)),
    with_hx=st.booleans(),
    steps=st.integers(1, 4),
    features=st.integers(1, 4),
    hidden=st.integers(1, 4),
)
def test_every_cell_batched_or_not_with_or_without_hx_is_named_and_its_steps_are_its_calls(
    kind: type[nn.Module],
    batch: int | None,
    with_hx: bool,
    steps: int,
    features: int,
    hidden: int,
) -> None:
    torch.manual_seed(0)
    cell = kind(features, hidden)
    lead = () if batch is None else (batch,)
    xs = [torch.randn(*lead, features) for _ in range(steps)]
    state: object = None
    if with_hx:
        h0 = torch.randn(*lead, hidden)
        state = (h0, torch.randn(*lead, hidden)) if kind is nn.LSTMCell else h0
    with bh.attach_hooks(nn.ModuleDict({"cell": cell})) as rec:
        returned = run_loop(cell, xs, state)
    latest = rec["cell"]
    assert isinstance(latest, bh.CellRecord)
    assert latest.step == steps - 1
    assert latest.h.pattern == ("hidden" if batch is None else "batch hidden")
    assert torch.equal(latest.h.tensor, h_of(returned[-1]))
    for k, out in enumerate(returned):  # the live tensors, named
        assert bh.describe(h_of(out)).split(" · ")[1] == f"cell.h: token {k}"
    loop = latest.steps()
    token = 0 if batch is None else 1
    assert loop.h.shape[token] == loop.input.shape[token] == steps
    assert loop.h.pattern == ("token hidden" if batch is None else "batch token hidden")
    for k, (x, out) in enumerate(zip(xs, returned, strict=True)):  # the stacked steps: the calls
        assert torch.equal(loop.h.tensor.select(token, k), h_of(out))
        assert torch.equal(loop.input.tensor.select(token, k), x)
        if kind is nn.LSTMCell:
            assert loop.c is not None
            assert torch.equal(loop.c.tensor.select(token, k), out[1])  # type: ignore[index]
    if with_hx:
        assert loop.h_0 is not None
        assert torch.equal(loop.h_0, h_of(state))
    else:
        assert loop.h_0 is None
    loop.check()
    latest.check()
    assert loop.unroll().check() < 1e-4


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("batched", [True, False])
def test_a_loop_with_a_one_layer_layers_weights_equals_that_layers_call(
    kind: type[nn.Module], batched: bool
) -> None:
    torch.manual_seed(1)
    layer = LAYERS[kind](3, 5, batch_first=True)
    cell = kind(3, 5)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer, f"{name}_l0"))
    x = torch.randn(2, 7, 3) if batched else torch.randn(7, 3)
    out, state = layer(x)
    h_n = state[0] if isinstance(state, tuple) else state
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    returned = run_loop(cell, list(x.unbind(1 if batched else 0)))
    loop = rec["cell"].steps()
    torch.testing.assert_close(loop.h.tensor, out)
    torch.testing.assert_close(h_of(returned[-1]), h_n[0])
    if kind is nn.LSTMCell:
        torch.testing.assert_close(returned[-1][1], state[1][0])  # type: ignore[index]
    loop.check()  # and the check says so
    rec.remove()


def test_a_loop_that_changes_its_state_between_steps_is_not_one_layer_call() -> None:
    cell = nn.GRUCell(3, 4)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    h = None
    for x in torch.randn(4, 2, 3):
        h = cell(x, h)
        h = h * 0.5  # the state changed between steps (a zoneout, an attention mix)
    with pytest.raises(bh.LayoutError, match="step 1 was given a state that is not what step 0"):
        rec["cell"].steps().check()
    rec["cell"].check()  # each step alone is still the cell's equations


def test_a_step_whose_state_was_not_the_cells_equations_fails_its_check() -> None:
    cell = nn.RNNCell(3, 4)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    h = cell(torch.randn(2, 3))
    with torch.no_grad():
        cell.weight_hh.add_(1.0)  # weights changed since: the replay gives another state
        cell.weight_ih.add_(1.0)
    with pytest.raises(bh.LayoutError, match="gives another h at step 0"):
        rec["cell"].check()
    assert h is not None


class Decoder(nn.Module):
    """A decoder stepping a cell over its input, once per forward."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = (torch.zeros(x.shape[0], 4), torch.zeros(x.shape[0], 4))  # explicit zeros
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0])
        return self.out(torch.stack(outputs, 1))


def test_each_forward_of_the_model_begins_a_new_loop_even_from_an_explicit_state() -> None:
    model = Decoder()
    rec = bh.attach_hooks(model, history=2)
    model(torch.randn(2, 5, 3))
    model(torch.randn(2, 3, 3))
    assert rec["cell"].step == 2
    assert len(rec["cell"].steps()) == 3
    assert [r.step for r in rec.records("cell")] == [0, 1, 2, 3, 4, 0, 1, 2]
    assert rec.calls("cell") == 8


def test_a_call_given_no_state_begins_a_new_loop_within_one_forward() -> None:
    cell = nn.GRUCell(3, 4)
    rec = bh.attach_hooks(cell, history=3)
    for length in (2, 3):  # two sequences, each from zeros
        run_loop(cell, list(torch.randn(length, 1, 3)))
    assert [r.step for r in rec.records(cell)] == [0, 1, 0, 1, 2]
    assert len(rec[cell].steps()) == 3


def test_hooks_change_no_output_and_no_gradient_and_keep_no_graph() -> None:
    torch.manual_seed(2)
    bare = Decoder()
    hooked = copy.deepcopy(bare)
    x = torch.randn(2, 4, 3)
    rec = bh.attach_hooks(hooked)
    outputs = [model(x) for model in (bare, hooked)]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    for out in outputs:
        out.sum().backward()
    for p, q in zip(bare.parameters(), hooked.parameters(), strict=True):
        assert p.grad is not None
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)
    kept = rec["cell"]
    assert kept.h.tensor.grad_fn is None
    assert kept.input.tensor.grad_fn is None


def test_a_saved_or_copied_model_carries_no_live_hook() -> None:
    model = Decoder()
    rec = bh.attach_hooks(model)
    model(torch.randn(1, 2, 3))
    loaded = pickle.loads(pickle.dumps(model))
    loaded(torch.randn(1, 2, 3))  # its hooks are inert: the recorder sees nothing new
    assert rec.calls("cell") == 2
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert set(torch.load(io.BytesIO(buffer.getvalue()))) == set(model.state_dict())


def test_the_recorder_summary_and_debugger_show_a_cells_step() -> None:
    from bilstm_hooks._display.debugger import children, value_text

    model = Decoder()
    rec = bh.attach_hooks(model)
    model(torch.randn(2, 3, 3))
    assert "cell    LSTMCell  3      h batch=2 token=3 hidden=4  h batch=2 hidden=4" in repr(rec)
    assert value_text(rec["cell"]) == "cell: LSTMCell, hidden=4, step 2 · h batch hidden"
    shown = children(rec["cell"])
    assert shown is not None
    named = {name: value for name, value, _ in shown.items}
    assert named["step"] == 2
    assert repr(named["steps"]).startswith("'cell' (LSTMCell, hidden=4, 3 steps)")
    table = str(bh.summary(model, input_data=torch.randn(2, 3, 3)))
    assert "h    batch=2 hidden=4 · step 2 of 3" in table


def test_no_recurrent_module_at_all_lists_the_cells_too() -> None:
    with pytest.raises(ValueError, match=r"nn\.LSTMCell, nn\.GRUCell, nn\.RNNCell"):
        bh.attach_hooks(nn.Linear(3, 4))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's own, on quantized tensors
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_quantized_lstm_is_refused_with_why() -> None:
    quantized = pytest.importorskip("torch.ao.nn.quantized.dynamic")
    layer = quantized.LSTM(3, 4)
    with pytest.raises(ValueError, match="found quantized ones, which are not supported"):
        bh.attach_hooks(nn.Sequential(layer))
    with pytest.warns(RuntimeWarning, match="not hooked, being quantized"):
        rec = bh.attach_hooks(nn.ModuleDict({"lstm": nn.LSTM(3, 4), "q": layer}))
    assert rec.names == ("lstm",)


@pytest.mark.parametrize("kind", CELLS)
def test_a_loop_whose_batch_shrinks_reads_as_a_packed_sequence_and_equals_the_packed_layer(
    kind: type[nn.Module],
) -> None:
    """An image-captioning decoder steps `h[:batch_t]`, its captions sorted longest first."""
    torch.manual_seed(3)
    cell = kind(4, 3)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    sizes = (3, 3, 2, 1)
    xs = [torch.randn(size, 4) for size in sizes]
    state: object = None
    returned = []
    for x in xs:
        size = x.shape[0]
        if state is not None:
            state = tuple(s[:size] for s in state) if isinstance(state, tuple) else state[:size]  # type: ignore[index]
        state = cell(x, state)
        returned.append(state)
    loop = rec["cell"].steps()
    assert loop.batch_sizes == sizes
    assert loop.lengths is not None
    assert loop.lengths.tolist() == [4, 3, 2]
    assert loop.h.pattern == "batch token hidden"
    assert loop.h.lengths == (4, 3, 2)
    for step, out in enumerate(returned):  # each step's rows where they are, zeros after
        rows = h_of(out).shape[0]
        assert torch.equal(loop.h.tensor[:rows, step], h_of(out))
        assert not loop.h.tensor[rows:, step].any()
    loop.check()
    loop.as_record().check()  # the packed layer's identities: out at each last step is h_n
    assert loop.unroll().check() < 1e-4
    packed = nn.utils.rnn.pack_padded_sequence(loop.input.tensor, loop.lengths, batch_first=True)
    out, _ = loop.as_layer()(packed)
    padded, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    torch.testing.assert_close(padded, loop.h.tensor)


def test_a_loop_whose_batch_grows_is_refused_with_where() -> None:
    cell = nn.GRUCell(4, 3)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    h = cell(torch.randn(2, 4))
    cell(torch.randn(3, 4), torch.cat([h, h[:1]]))
    with pytest.raises(ValueError, match="the batch grows from 2 to 3 at step 1"):
        rec["cell"].steps().h  # noqa: B018


def test_a_loop_that_changes_its_state_is_not_unrolled_as_one_sequence() -> None:
    cell = nn.RNNCell(4, 3)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    h = None
    for x in torch.randn(3, 2, 4):
        h = cell(x, h) * 2
    with pytest.raises(ValueError, match=r"cannot unroll .* step 1 was given a state"):
        rec["cell"].steps().unroll()
    assert rec["cell"].unroll().check() < 1e-5  # one step is still replayed


def _gru_steps(steps: int = 4) -> tuple[bh.Recorder, list[torch.Tensor]]:
    cell = nn.GRUCell(3, 4)
    rec = bh.attach_hooks(nn.ModuleDict({"cell": cell}))
    h, hs = None, []
    for x in torch.randn(steps, 2, 3):
        h = cell(x, h)
        hs.append(h)
    return rec, hs


@pytest.mark.parametrize(
    ("join", "pattern", "token"),
    [
        (lambda hs: torch.stack(hs, dim=1), "batch token hidden", 1),
        (lambda hs: torch.stack(hs), "token batch hidden", 0),
        (lambda hs: torch.cat([h.unsqueeze(1) for h in hs], dim=1), "batch token hidden", 1),
    ],
    ids=["stack(dim=1)", "stack()", "cat(unsqueeze(1))"],
)
def test_a_cell_loops_states_stacked_while_following_are_its_steps(
    join: Any, pattern: str, token: int
) -> None:
    rec, hs = _gru_steps()
    with bh.follow():
        joined = join(hs)
    found = bh.annotation_of(joined)
    assert found is not None
    assert (found.pattern, found.origin, found.at) == (pattern, "cell.h", {})
    steps = rec["cell"].steps().h.tensor  # the recorded calls: the same values, in order
    assert torch.equal(joined if token == 1 else joined.transpose(0, 1), steps)


def test_states_joined_along_hidden_fuse_token_into_it() -> None:
    _, hs = _gru_steps(3)
    with bh.follow():
        joined = torch.cat(hs, dim=1)
    found = bh.annotation_of(joined)
    assert found is not None
    assert found.pattern == "batch (token hidden)"
    assert torch.equal(joined.view(2, 3, 4)[:, 1], hs[1])


@pytest.mark.parametrize(
    "pick",
    [lambda hs: [hs[1], hs[0], hs[2]], lambda hs: [hs[0], hs[0]], lambda hs: [hs[0], hs[2]]],
    ids=["out of order", "one step twice", "a step skipped"],
)
def test_states_that_are_not_consecutive_steps_are_not_named_as_tokens(pick: Any) -> None:
    _, hs = _gru_steps()
    with bh.follow():
        joined = torch.stack(pick(hs), dim=1)
    found = bh.annotation_of(joined)
    assert found is None or "token" not in found.dims


def test_a_followed_decoder_names_its_stacked_steps_and_what_its_head_makes() -> None:
    model = Decoder()
    bh.attach_hooks(model, follow=True)
    logits = model(torch.randn(2, 5, 3))
    found = bh.annotation_of(logits)
    assert found is not None
    assert found.dims[:2] == ("batch", "token")
    assert found.sizes["token"] == 5


def test_a_cell_of_a_second_model_with_the_same_name_is_told_apart_from_its_next_call() -> None:
    class Encoder(Decoder):
        pass

    first, second = Decoder(), Encoder()
    bh.attach_hooks(first)
    before = first.cell(torch.randn(2, 3))  # its layout cached with the label `cell`
    assert bh.describe(before[0]).split(" · ")[1] == "cell.h: token 0"
    bh.attach_hooks(second)  # a clash: both labels qualified, the caches cleared
    after = first.cell(torch.randn(2, 3))
    assert bh.describe(after[0]).split(" · ")[1] == "Decoder.cell.h: token 0"
    theirs = second.cell(torch.randn(2, 3))
    assert bh.describe(theirs[0]).split(" · ")[1] == "Encoder.cell.h: token 0"
