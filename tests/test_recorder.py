"""attach_hooks() and Recorder: what gets hooked, what is kept, lookups, lifecycle, repr."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.proj = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.proj(out)


class Model(nn.Module):
    """Recurrent layers nested in a custom module, a ModuleList, a Sequential, and at top."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(2, 3)
        self.blocks = nn.ModuleList([Encoder(), nn.Sequential(nn.GRU(3, 5, batch_first=True))])
        self.head = nn.RNN(5, 2, num_layers=2, batch_first=True, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks[0](self.embed(x))
        x, _ = self.blocks[1](x)
        out, _ = self.head(x)
        return out


NESTED_NAMES = ("blocks.0.rnn", "blocks.1.0", "head")


def hooks_of(module: nn.Module) -> int:
    return len(module._forward_hooks) + len(module._forward_hooks_with_kwargs)


@pytest.fixture
def model() -> Model:
    torch.manual_seed(0)
    return Model()


# -- what gets hooked -------------------------------------------------------------------


def test_the_model_itself_is_hooked_under_the_empty_name() -> None:
    gru = nn.GRU(3, 4)
    rec = bh.attach_hooks(gru)
    _, h_n = gru(torch.randn(5, 2, 3))
    assert rec.names == ("",)
    assert rec[""] is rec[gru] is rec.last
    assert (rec[""].name, rec[""].module, rec[""].kind) == ("", gru, "GRU")
    assert torch.equal(rec[""].h_n.tensor, h_n)


def test_nested_recurrent_layers_are_found_by_qualified_name(model: Model) -> None:
    rec = bh.attach_hooks(model)
    model(torch.randn(2, 6, 2))
    assert rec.names == NESTED_NAMES
    assert list(rec) == list(NESTED_NAMES)
    assert len(rec) == 3
    assert rec.modules == {
        "blocks.0.rnn": model.blocks[0].rnn,
        "blocks.1.0": model.blocks[1][0],
        "head": model.head,
    }
    assert [rec[name].kind for name in NESTED_NAMES] == ["LSTM", "GRU", "RNN"]
    assert "head" in rec
    assert model.head in rec
    assert "embed" not in rec
    assert model.embed not in rec
    assert nn.LSTM(3, 4) not in rec


def test_several_layers_each_record_their_own_call(model: Model) -> None:
    rec = bh.attach_hooks(model)
    x = torch.randn(2, 6, 2)
    y = model(x)
    lstm, gru, rnn = (rec[name] for name in NESTED_NAMES)
    assert lstm.out.sizes == {"batch": 2, "token": 6, "direction": 2, "hidden": 4}
    assert gru.input.sizes == {"batch": 2, "token": 6, "feature": 3}
    assert gru.out.sizes == {"batch": 2, "token": 6, "direction": 1, "hidden": 5}
    assert rnn.h_n.sizes == {"layer": 2, "direction": 1, "batch": 2, "hidden": 2}
    assert torch.equal(rnn.out.tensor, y)
    for record in (lstm, gru, rnn):
        record.check()
    assert rec.last is rnn  # the head runs last
    assert [rec.calls(name) for name in NESTED_NAMES] == [1, 1, 1]


def test_a_data_parallel_wrapper_on_cpu_is_looked_through(model: Model) -> None:
    wrapped = nn.DataParallel(model)  # no GPU: DataParallel just calls the module
    x = torch.randn(2, 6, 2)
    bare = model(x)
    rec = bh.attach_hooks(wrapped)
    assert torch.equal(wrapped(x), bare)
    assert rec.names == tuple(f"module.{name}" for name in NESTED_NAMES)
    assert rec["module.head"] is rec[model.head]
    rec["module.blocks.0.rnn"].check()


def test_subclasses_of_recurrent_layers_are_hooked() -> None:
    class MyGRU(nn.GRU):
        pass

    layer = MyGRU(3, 4)
    rec = bh.attach_hooks(layer)
    layer(torch.randn(5, 3))
    assert rec[layer].kind == "GRU"
    assert rec[layer].label == "<MyGRU>"


def test_a_cell_alone_is_hooked_as_the_model() -> None:
    cell = nn.LSTMCell(3, 4)
    rec = bh.attach_hooks(cell)
    h, _ = cell(torch.randn(2, 3))
    assert rec.names == ("",)
    assert torch.equal(rec[cell].h.tensor, h)


def test_input_passed_as_keyword() -> None:
    lstm = nn.LSTM(3, 4, batch_first=True)
    rec = bh.attach_hooks(lstm)
    x = torch.randn(2, 5, 3)
    h_0, c_0 = torch.randn(1, 2, 4), torch.randn(1, 2, 4)
    out, _ = lstm(input=x, hx=(h_0, c_0))
    assert torch.equal(rec[lstm].input.tensor, x)
    assert torch.equal(rec[lstm].out.tensor, out)
    assert rec[lstm].input.pattern == "batch token feature"
    rec[lstm].check()
    out, _ = lstm(x, hx=(h_0, c_0))
    assert rec.calls(lstm) == 2
    assert torch.equal(rec[lstm].out.tensor, out)


# -- history ----------------------------------------------------------------------------


class Twice(nn.Module):
    """One GRU called twice per forward."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 3, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(x)
        z, _ = self.gru(y[:, :2])
        return z


def test_a_layer_called_twice_per_forward_keeps_both_with_history() -> None:
    model = Twice()
    rec = bh.attach_hooks(model, history=2)
    x = torch.randn(2, 5, 3)
    z = model(x)
    first, second = rec.records("gru")
    assert first.input.sizes["token"] == 5
    assert second.input.sizes["token"] == 2
    assert torch.equal(first.input.tensor, x)
    assert torch.equal(second.out.tensor, z)
    assert rec["gru"] is second is rec.last
    assert rec.calls("gru") == 2


def test_history_one_keeps_only_the_latest_call() -> None:
    model = Twice()
    rec = bh.attach_hooks(model)
    assert rec.history == 1
    z = model(torch.randn(2, 5, 3))
    (only,) = rec.records("gru")
    assert torch.equal(only.out.tensor, z)
    assert rec.calls("gru") == 2


@pytest.mark.parametrize("history", [1, 3, 5])
def test_history_keeps_the_newest_n_oldest_first(history: int) -> None:
    gru = nn.GRU(1, 2)
    rec = bh.attach_hooks(gru, history=history)
    for step in range(7):
        gru(torch.full((2, 1), float(step)))  # unbatched: token feature
    kept = rec.records(gru)
    assert len(kept) == history
    assert [int(r.input.tensor[0, 0]) for r in kept] == list(range(7 - history, 7))
    assert rec.calls(gru) == 7
    assert rec[gru] is kept[-1]


def test_last_is_the_most_recent_record_of_any_module(model: Model) -> None:
    rec = bh.attach_hooks(model)
    with pytest.raises(LookupError, match=r"^no hooked module has been called yet; run the model"):
        rec.last  # noqa: B018
    model.blocks[0](torch.randn(2, 6, 3))
    assert rec.last is rec["blocks.0.rnn"]
    model.head(torch.randn(2, 6, 5))
    assert rec.last is rec["head"]


def test_clear_forgets_records_and_keeps_hooks(model: Model) -> None:
    rec = bh.attach_hooks(model, history=2)
    model(torch.randn(2, 6, 2))
    rec.clear()
    assert rec.records("head") == []
    with pytest.raises(LookupError, match=r"^no hooked module has been called yet"):
        rec.last  # noqa: B018
    with pytest.raises(
        LookupError,
        match=r"^'head' \(RNN\) is hooked, but its records were cleared by clear\(\); "
        r"run the model first$",
    ):
        rec["head"]
    assert rec.calls("head") == 1  # calls are not records
    model(torch.randn(2, 6, 2))
    assert len(rec.records("head")) == 1
    assert rec.last is rec["head"]


# -- every call annotated as it is ----------------------------------------------------------


def test_each_call_is_annotated_with_its_own_shape_over_varying_lengths() -> None:
    gru = nn.GRU(3, 4, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(gru, history=100)
    for tokens in range(1, 81):  # more distinct shapes than the recorder caches
        gru(torch.randn(2, tokens, 3))
    for tokens, record in enumerate(rec.records(gru)[-80:], start=1):
        assert record.out.sizes == {"batch": 2, "token": tokens, "direction": 2, "hidden": 4}
    for batch in (3, 1, 3):  # packed calls of equal length, different batch
        x = torch.randn(batch, 5, 3)
        gru(pack_padded_sequence(x, torch.full((batch,), 5), batch_first=True))
        assert rec[gru].out.sizes["batch"] == batch
        assert rec[gru].h_n.sizes["batch"] == batch
    gru(torch.randn(5, 3))  # unbatched, same trailing shape as nothing before
    assert rec[gru].out.pattern == "token (direction hidden)"


def test_a_layer_reconfigured_between_calls_is_annotated_as_it_is_now() -> None:
    lstm = nn.LSTM(3, 4)
    rec = bh.attach_hooks(lstm)
    x = torch.randn(6, 2, 3)
    lstm(x)
    assert rec[lstm].out.pattern == "token batch (direction hidden)"
    lstm.batch_first = True
    lstm(x)
    assert rec[lstm].out.pattern == "batch token (direction hidden)"
    assert rec[lstm].out.sizes == {"batch": 6, "token": 2, "direction": 1, "hidden": 4}
    rec[lstm].check()


class SwitchableLSTM(nn.LSTM):
    """A subclass that computes `batch_first` instead of storing it on the instance."""

    @property
    def batch_first(self) -> bool:
        return bool(self.layout_switch)

    @batch_first.setter
    def batch_first(self, value: bool) -> None:
        self.layout_switch = value


def test_a_subclass_computing_its_settings_is_annotated_as_it_is_now() -> None:
    lstm = SwitchableLSTM(3, 4, bidirectional=True)
    assert "batch_first" not in vars(lstm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = bh.attach_hooks(lstm)
        x = torch.randn(6, 2, 3)
        lstm(x)
        assert rec[lstm].out.pattern == "token batch (direction hidden)"
        rec[lstm].check()
        lstm.layout_switch = True
        lstm(x)
    assert [str(w.message) for w in caught] == []  # the hook did not fail on it
    assert rec[lstm].out.pattern == "batch token (direction hidden)"
    assert rec[lstm].out.sizes == {"batch": 6, "token": 2, "direction": 2, "hidden": 4}
    rec[lstm].check()


# -- lookups and their errors -----------------------------------------------------------------


def test_unknown_name_is_a_key_error_listing_the_known_names(model: Model) -> None:
    rec = bh.attach_hooks(model)
    with pytest.raises(
        KeyError,
        match=r"no hooked module named 'blocks\.0'; hooked: 'blocks\.0\.rnn', 'blocks\.1\.0', "
        r"'head'",
    ):
        rec["blocks.0"]
    with pytest.raises(KeyError, match=r"no hooked module named 'nope'"):
        rec.records("nope")
    with pytest.raises(KeyError, match=r"no hooked module named 'nope'"):
        rec.calls("nope")


def test_an_unhooked_module_object_is_a_key_error(model: Model) -> None:
    rec = bh.attach_hooks(model)
    with pytest.raises(
        KeyError,
        match=r"LSTM module is not hooked by this recorder; hooked: 'blocks\.0\.rnn', "
        r"'blocks\.1\.0', 'head'",
    ):
        rec[nn.LSTM(3, 4)]


def test_a_key_of_the_wrong_type_is_a_type_error(model: Model) -> None:
    rec = bh.attach_hooks(model)
    with pytest.raises(TypeError, match=r"^expected a module name \(str\) or module, got int$"):
        rec[0]


def test_a_hooked_module_not_yet_called_is_a_lookup_error(model: Model) -> None:
    rec = bh.attach_hooks(model)
    model.blocks[0](torch.randn(2, 6, 3))
    with pytest.raises(
        LookupError,
        match=r"^'head' \(RNN\) is hooked, but it has not been called since it was hooked; "
        r"run the model first$",
    ) as excinfo:
        rec[model.head]
    assert not isinstance(excinfo.value, KeyError)  # known, just not called
    assert rec.records("head") == []
    assert rec.calls(model.head) == 0


def test_a_root_module_not_yet_called_is_named_by_its_class() -> None:
    rec = bh.attach_hooks(nn.GRU(2, 2))
    with pytest.raises(LookupError, match=r"^<GRU> is hooked, but it has not"):
        rec[""]
    with pytest.raises(
        KeyError, match=r"no hooked module named 'gru'; hooked: '' \(<GRU>, the model"
    ):
        rec["gru"]


# -- attach_hooks argument errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (torch.zeros(3), r"^attach_hooks expected an nn\.Module, got Tensor$"),
        (nn.LSTM, r"^attach_hooks expected an nn\.Module, got type$"),
        ([nn.LSTM(2, 2)], r"^attach_hooks expected an nn\.Module, got list$"),
    ],
    ids=["tensor", "class", "list"],
)
def test_a_non_module_is_a_type_error(model: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        bh.attach_hooks(model)


def test_a_model_without_recurrent_layers_is_a_value_error() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(
        ValueError,
        match=r"^Sequential has no recurrent layer: looked for nn\.LSTM, nn\.GRU, nn\.RNN, "
        r"nn\.LSTMCell, nn\.GRUCell, nn\.RNNCell and their subclasses among its "
        r"named_modules\(\)$",
    ):
        bh.attach_hooks(model)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"history": 0}, ValueError, r"^expected history >= 1 \(calls kept per module\), got 0$"),
        ({"history": -2}, ValueError, r"^expected history >= 1 \(calls kept per module\), got -2"),
        ({"history": 1.5}, TypeError, r"^expected history as an int >= 1, got 1\.5$"),
        ({"history": "2"}, TypeError, r"^expected history as an int >= 1, got '2'$"),
        ({"history": True}, TypeError, r"^expected history as an int >= 1, got True$"),
        ({"history": None}, TypeError, r"^expected history as an int >= 1, got None$"),
        ({"detach": 1}, TypeError, r"^expected detach as a bool, got 1$"),
    ],
    ids=["zero", "negative", "float", "str", "bool", "none", "detach-int"],
)
def test_bad_options(options: dict[str, Any], error: type[Exception], message: str) -> None:
    lstm = nn.LSTM(2, 2)
    with pytest.raises(error, match=message):
        bh.attach_hooks(lstm, **options)
    assert hooks_of(lstm) == 0  # nothing half-attached


@pytest.mark.parametrize("history", [sys.maxsize + 1, 2**70])
def test_history_has_an_upper_bound(history: int) -> None:
    lstm = nn.LSTM(2, 2)
    with pytest.raises(
        ValueError,
        match=rf"^expected history as an int between 1 and {sys.maxsize} \(sys\.maxsize\), "
        rf"got {history}$",
    ):  # was an OverflowError from the deque
        bh.attach_hooks(lstm, history=history)
    assert hooks_of(lstm) == 0
    with bh.attach_hooks(lstm, history=sys.maxsize) as rec:  # "no limit", as bh.summary asks
        lstm(torch.randn(3, 2))
    assert rec.history == sys.maxsize
    assert len(rec.records(lstm)) == 1


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        bh.attach_hooks(nn.LSTM(2, 2), 2)  # type: ignore[misc]


# -- lifecycle ---------------------------------------------------------------------------------


def test_with_block_removes_every_hook_and_records_stay_readable(model: Model) -> None:
    before = {name: hooks_of(m) for name, m in model.named_modules()}
    with bh.attach_hooks(model) as rec:
        assert [hooks_of(rec.modules[name]) for name in NESTED_NAMES] == [2, 2, 2]
        model(torch.randn(2, 6, 2))
    for name, m in model.named_modules():
        assert hooks_of(m) == before[name] == 0
    assert not model.head._forward_hooks
    record = rec["blocks.0.rnn"]
    assert record.out.sizes == {"batch": 2, "token": 6, "direction": 2, "hidden": 4}
    record.check()
    model(torch.randn(2, 6, 2))  # no longer recorded
    assert rec.calls("head") == 1
    assert rec["head"] is rec.last


def test_remove_twice_is_safe(model: Model) -> None:
    rec = bh.attach_hooks(model)
    rec.remove()
    rec.remove()
    assert all(hooks_of(m) == 0 for m in model.modules())
    with rec:  # and leaving a with-block after remove() is too
        pass
    model(torch.randn(2, 6, 2))
    assert rec.calls("head") == 0


def test_removing_one_recorder_leaves_another_in_place() -> None:
    lstm = nn.LSTM(2, 2)
    first = bh.attach_hooks(lstm)
    second = bh.attach_hooks(lstm)
    first.remove()
    lstm(torch.randn(3, 2))
    assert (first.calls(lstm), second.calls(lstm)) == (0, 1)


def test_with_block_removes_hooks_when_the_body_raises() -> None:
    lstm = nn.LSTM(2, 2)
    with pytest.raises(RuntimeError, match="boom"), bh.attach_hooks(lstm):
        raise RuntimeError("boom")
    assert hooks_of(lstm) == 0


# -- repr ---------------------------------------------------------------------------------------


def test_repr_of_a_recorder_is_a_table(model: Model) -> None:
    rec = bh.attach_hooks(model, history=2)
    model.blocks[0](torch.randn(1, 6, 3))
    assert repr(rec) == (
        "Recorder: 3 hooked modules, history=2\n"
        "module        kind  calls  out                                     h_n\n"
        "blocks.0.rnn  LSTM  1      batch=1 token=6 (direction=2 hidden=4)  "
        "(layer=1 direction=2) batch=1 hidden=4\n"
        "blocks.1.0    GRU   0      (not called yet)\n"
        "head          RNN   0      (not called yet)"
    )
    rec.clear()
    model(torch.randn(1, 6, 2))
    rec.clear()
    assert repr(rec).splitlines()[2:] == [
        "blocks.0.rnn  LSTM  2      (cleared)",
        "blocks.1.0    GRU   1      (cleared)",
        "head          RNN   1      (cleared)",
    ]


def test_repr_of_a_root_recorder_of_a_gru() -> None:
    gru = nn.GRU(3, 4, num_layers=2)
    rec = bh.attach_hooks(gru)
    gru(torch.randn(6, 3))
    assert repr(rec) == (
        "Recorder: 1 hooked module, history=1\n"
        "module  kind  calls  out                             h_n\n"
        "<GRU>   GRU   1      token=6 (direction=1 hidden=4)  (layer=2 direction=1) hidden=4"
    )


def test_repr_shows_c_n_only_where_proj_size_makes_it_differ() -> None:
    model = nn.ModuleDict({"proj": nn.LSTM(3, 4, proj_size=2), "gru": nn.GRU(3, 4)})
    rec = bh.attach_hooks(model)
    model["proj"](torch.randn(6, 3))
    model["gru"](torch.randn(6, 3))
    assert repr(rec).splitlines()[1:] == [
        "module  kind  calls  out                             h_n                             c_n",
        "proj    LSTM  1      token=6 (direction=1 hidden=2)  (layer=1 direction=1) hidden=2  "
        "(layer=1 direction=1) hidden=4",
        "gru     GRU   1      token=6 (direction=1 hidden=4)  (layer=1 direction=1) hidden=4  -",
    ]


def test_repr_of_a_record_is_a_table(seq_lstm: nn.LSTM) -> None:
    with bh.attach_hooks(nn.ModuleDict({"encoder": seq_lstm})) as rec:
        seq_lstm(torch.randn(1, 6, 3))
    assert repr(rec["encoder"]) == (
        "Record 'encoder' (LSTM, 2 layers, bidirectional, batch_first=True)\n"
        "  input  batch token feature             batch=1 token=6 feature=3\n"
        "  out    batch token (direction hidden)  batch=1 token=6 (direction=2 hidden=4)\n"
        "  h_n    (layer direction) batch hidden  (layer=2 direction=2) batch=1 hidden=4\n"
        "  c_n    (layer direction) batch hidden  (layer=2 direction=2) batch=1 hidden=4"
    )


def test_repr_of_a_packed_projected_record() -> None:
    lstm = nn.LSTM(3, 4, proj_size=2)
    packed = nn.utils.rnn.pack_sequence(
        [torch.randn(2, 3), torch.randn(5, 3), torch.randn(4, 3)], enforce_sorted=False
    )
    with bh.attach_hooks(lstm) as rec:
        lstm(packed)
    assert repr(rec[lstm]) == (
        "Record '<LSTM>' (LSTM, 1 layer, unidirectional, batch_first=False, proj_size=2, packed)\n"
        "  input  token batch feature             token=5 batch=3 feature=3\n"
        "  out    token batch (direction hidden)  token=5 batch=3 (direction=1 hidden=2)\n"
        "  h_n    (layer direction) batch hidden  (layer=1 direction=1) batch=3 hidden=2\n"
        "  c_n    (layer direction) batch hidden  (layer=1 direction=1) batch=3 hidden=4\n"
        "  lengths [2, 5, 4]"
    )


def test_the_recorder_text_counts_called_and_hooked_modules_apart(model: Model) -> None:
    rec = bh.attach_hooks(model)
    hooked = len(rec)
    assert bh.describe(rec) == f"Recorder: {hooked} hooked, 0 called"
    model.head(torch.randn(2, 6, 5))  # one module of three
    assert bh.describe(rec) == f"Recorder: {hooked} hooked, 1 called ('head')"
    assert repr(rec).splitlines()[0] == f"Recorder: {hooked} hooked modules, history=1"
    rec.remove()
    assert not rec.hooked
    assert bh.describe(rec) == f"Recorder: hooks removed from {hooked}, 1 called ('head')"
    assert repr(rec).splitlines()[0] == f"Recorder: {hooked} modules, hooks removed, history=1"
    with pytest.raises(
        LookupError, match=r"^'blocks\.0\.rnn' \(LSTM\) was hooked \(the hooks are "
    ):
        rec["blocks.0.rnn"]


def test_a_root_module_is_named_by_its_class_in_every_text() -> None:
    gru = nn.GRU(2, 3)
    rec = bh.attach_hooks(gru)
    gru(torch.randn(4, 2))
    assert bh.describe(rec) == "Recorder: 1 hooked, 1 called (<GRU>)"
    assert "<GRU>" in repr(rec).splitlines()[2]
    assert bh.describe(rec[gru]).startswith("<GRU>: GRU, 1 layer")
    assert bh.describe(rec[gru].h_n) == "(layer=1 direction=1) hidden=3 · <GRU>.h_n · float32 cpu"


def test_an_unknown_keyword_of_attach_hooks_names_the_accepted_ones() -> None:
    with pytest.raises(
        TypeError,
        match=r"^attach_hooks\(\) got an unexpected keyword argument 'histroy'; it accepts: "
        r"history, detach, follow; did you mean 'history'\?$",
    ):
        bh.attach_hooks(nn.LSTM(2, 2), histroy=2)  # type: ignore[call-arg]


def test_records_and_calls_without_a_key_cover_every_module() -> None:
    model = nn.ModuleDict({"a": nn.GRU(3, 4), "b": nn.LSTM(3, 2, bidirectional=True)})
    rec = bh.attach_hooks(model, history=3)
    for _ in range(2):
        model["a"](torch.randn(5, 2, 3))
    model["b"](torch.randn(4, 1, 3))
    everything = rec.records()
    assert [r.h_n.tensor.shape for r in everything] == [
        *(r.h_n.tensor.shape for r in rec.records("a")),
        *(r.h_n.tensor.shape for r in rec.records("b")),
    ]
    assert len(everything) == 3
    assert all(
        torch.equal(x.h_n.tensor, y.h_n.tensor)
        for x, y in zip(everything[:2], rec.records("a"), strict=True)
    )
    assert (rec.calls(), rec.calls("a"), rec.calls("b")) == (3, 2, 1)
    rec.clear()
    assert (rec.records(), rec.calls()) == ([], 3)  # clear forgets records, not the count


def test_a_failed_check_of_inference_tensors_says_a_change_in_place_cannot_be_told() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    rec = bh.attach_hooks(lstm)
    with torch.inference_mode():
        _, (h_n, _) = lstm(torch.randn(5, 2, 3))
        h_n.zero_()
    with pytest.raises(bh.LayoutError, match="differs from h_n") as raised:
        rec[lstm].check()
    assert "ran under torch.inference_mode: its tensors keep no version counter" in str(
        raised.value
    )
    with torch.no_grad():  # there the change is told, and named
        _, (h_n, _) = lstm(torch.randn(5, 2, 3))
        h_n.zero_()
    with pytest.raises(ValueError, match="h_n was changed in place since the call"):
        rec[lstm].check()
    with torch.inference_mode():  # untouched: it holds, and says nothing
        lstm(torch.randn(5, 2, 3))
    rec[lstm].check()
