"""bh.summary(): torchinfo's table plus the named dims of out, h_n and c_n.

Printed tables are compared with golden files under tests/golden/. After a deliberate
change, regenerate them with

    BILSTM_HOOKS_OVERWRITE_GOLDEN=1 python -m pytest tests/test_summary.py tests/test_notebook.py

or `python -m pytest --overwrite-golden`, and review the diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torchinfo
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh
from bilstm_hooks._display import summary_table as _summary_table

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(overwrite: bool, name: str, text: str) -> None:
    """`text` equals tests/golden/`name`; rewrites the file when asked to."""
    path = GOLDEN / name
    if overwrite:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; create it with BILSTM_HOOKS_OVERWRITE_GOLDEN=1"
    assert text + "\n" == path.read_text(encoding="utf-8")


def seed_lstm() -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)


class Encoder(nn.Module):
    """Packs inside forward, runs its LSTM twice (different lengths), then a GRU."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = seed_lstm()
        self.gru = nn.GRU(8, 5)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        prefix, _ = self.lstm(x[:, :4])
        self.gru(prefix.transpose(0, 1))
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))


def encoder_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(3, 6, 3), torch.tensor([4, 6, 2])


def hooks_of(model: nn.Module) -> list[int]:
    names = ("_forward_pre_hooks", "_forward_hooks", "_forward_hooks_with_kwargs")
    return [len(getattr(m, name)) for m in model.modules() for name in names]


# -- golden tables --------------------------------------------------------------------------
def test_golden_seed_model(overwrite_golden: bool) -> None:
    text = str(bh.summary(seed_lstm(), input_size=(1, 6, 3)))
    assert_golden(overwrite_golden, "summary_seed.txt", text)


def test_golden_unbatched(overwrite_golden: bool) -> None:
    text = str(bh.summary(seed_lstm(), input_size=(6, 3)))
    assert "out  token=6 (direction=2 hidden=4)" in text
    assert "h_n  (layer=2 direction=2) hidden=4" in text
    assert_golden(overwrite_golden, "summary_unbatched.txt", text)


def test_golden_packed_inside_forward_per_call(overwrite_golden: bool) -> None:
    result = bh.summary(
        Encoder(),
        input_data=encoder_inputs(),
        col_names=("input_size", "output_size", "num_params"),
    )
    assert_golden(overwrite_golden, "summary_packed_calls.txt", str(result))


def test_golden_without_input(overwrite_golden: bool) -> None:
    """No forward pass: what the configuration fixes, batch and token left open."""
    result = bh.summary(Encoder())
    assert "out  batch token (direction=2 hidden=4)" in str(result)
    assert result.records() == []
    assert_golden(overwrite_golden, "summary_no_input.txt", str(result))


# -- what the table says --------------------------------------------------------------------
def test_one_row_per_call_with_that_calls_dims() -> None:
    lines = str(bh.summary(Encoder(), input_data=encoder_inputs())).splitlines()
    lstm_rows = [line for line in lines if "LSTM: 1-" in line]
    assert len(lstm_rows) == 2
    assert lstm_rows[0].endswith("out  batch=3 token=6 (direction=2 hidden=4), padded")
    assert lstm_rows[1].endswith("out  batch=3 token=4 (direction=2 hidden=4)")
    assert any("packed, lengths [4, 6, 2]" in line for line in lines)
    gru = lines.index(next(line for line in lines if "GRU: 1-" in line))
    assert lines[gru].endswith("out  token=4 batch=3 (direction=1 hidden=5)")
    assert lines[gru + 1].split()[1] == "└─h_n"
    assert "[1, 3, 5]" in lines[gru + 1]
    assert lines[gru + 1].endswith("h_n  (layer=1 direction=1) batch=3 hidden=5")
    assert not any("c_n" in line for line in lines[gru + 1 : gru + 3])  # a GRU has no c_n


def test_states_torchinfo_never_shows_get_rows_with_shapes() -> None:
    lines = str(bh.summary(seed_lstm(), input_size=(2, 6, 3))).splitlines()
    h_n = next(line for line in lines if line.startswith("├─h_n"))
    c_n = next(line for line in lines if line.startswith("├─c_n"))
    assert h_n.split()[1:4] == ["[4,", "2,", "4]"]
    assert h_n.endswith("h_n  (layer=2 direction=2) batch=2 hidden=4")
    assert c_n.endswith("c_n  (layer=2 direction=2) batch=2 hidden=4")


def test_proj_size_h_n_and_c_n_differ() -> None:
    lstm = nn.LSTM(3, 4, proj_size=2, batch_first=True)
    text = str(bh.summary(lstm, input_size=(1, 6, 3)))
    assert "h_n  (layer=1 direction=1) batch=1 hidden=2" in text
    assert "c_n  (layer=1 direction=1) batch=1 hidden=4" in text


def test_torchinfo_units_bug_is_not_printed() -> None:
    text = str(bh.summary(seed_lstm(), input_size=(1, 6, 3)))
    assert "Total mult-adds (M):" in text
    assert "Units." not in text


# -- programmatic access --------------------------------------------------------------------
def test_records_give_the_annotations_per_call() -> None:
    model = Encoder()
    result = bh.summary(model, input_data=encoder_inputs())
    assert result.names == ("lstm", "gru")
    first, second = result.records("lstm")
    assert first.out.sizes == {"batch": 3, "token": 6, "direction": 2, "hidden": 4}
    assert first.lengths is not None
    assert first.lengths.tolist() == [4, 6, 2]
    assert second.out.sizes["token"] == 4
    assert result[model.lstm] is second
    assert result["gru"].h_n.pattern == "(layer direction) batch hidden"
    assert [r.name for r in result] == ["lstm", "lstm", "gru"]
    assert len(result) == 3
    first.check()
    second.check()


def test_torchinfo_attributes_read_through() -> None:
    result = bh.summary(seed_lstm(), input_size=(1, 6, 3))
    assert isinstance(result.stats, torchinfo.ModelStatistics)
    assert result.total_params == 736
    assert result.summary_list is result.stats.summary_list
    with pytest.raises(AttributeError, match="no_such_thing"):
        result.no_such_thing  # noqa: B018


def test_unknown_key() -> None:
    result = bh.summary(Encoder(), input_data=encoder_inputs())
    with pytest.raises(KeyError, match=r"no recorded call of 'decoder'; recorded: 'lstm', 'gru'"):
        result["decoder"]


def test_model_without_recurrent_layer() -> None:
    result = bh.summary(nn.Linear(3, 2), input_size=(1, 3))
    assert str(result).endswith("No recurrent layer in Linear (nn.LSTM, nn.GRU, nn.RNN).")
    assert result.records() == []
    assert result.names == ()


def test_verbose_prints_ours(capsys: pytest.CaptureFixture[str]) -> None:
    result = bh.summary(seed_lstm(), input_size=(1, 6, 3), verbose=1)
    assert capsys.readouterr().out == str(result) + "\n"
    bh.summary(seed_lstm(), input_size=(1, 6, 3))
    assert capsys.readouterr().out == ""


# -- hooks, modes, cache: left as they were -------------------------------------------------
def test_hooks_removed_and_every_mode_restored() -> None:
    model = Encoder().train()
    model.gru.eval()  # mixed modes: torchinfo alone would set them all to the root's
    own = model.lstm.register_forward_hook(lambda *args: None)
    before = hooks_of(model)
    bh.summary(model, input_data=encoder_inputs())
    assert hooks_of(model) == before
    assert (model.training, model.lstm.training, model.gru.training) == (True, True, False)
    own.remove()


def test_hooks_removed_and_modes_restored_when_the_forward_fails() -> None:
    model = Encoder().train()
    model.head.eval()
    before = hooks_of(model)
    with pytest.raises(
        RuntimeError,
        match=r"^Encoder's forward pass failed under torchinfo: RuntimeError: mat1 and mat2 "
        r"shapes cannot be multiplied",  # torch's own message, not torchinfo's "see above"
    ):
        bh.summary(model, input_data=(torch.randn(3, 6, 5), torch.tensor([4, 6, 2])))
    assert hooks_of(model) == before
    assert (model.training, model.head.training) == (True, False)


def test_torchinfo_cache_does_not_keep_the_model() -> None:
    cache = torchinfo.torchinfo._cached_forward_pass
    torchinfo.summary(Encoder(), input_data=encoder_inputs(), verbose=0, cache_forward_pass=True)
    before = dict(cache)
    bh.summary(Encoder(), input_data=encoder_inputs())
    bh.summary(seed_lstm(), input_size=(1, 6, 3))
    assert cache == before  # same keys, same entries: neither dropped nor replaced
    torchinfo.torchinfo.clear_cached_forward_pass()


def test_records_are_in_call_order_even_where_the_table_is_not() -> None:
    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.top = nn.GRU(3, 3)  # registered first, called second
            self.inner = nn.Sequential(nn.GRU(3, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.inner(x)
            return self.top(out)[0]

    model = Nested()
    result = bh.summary(model, input_size=(5, 2, 3), depth=1)  # inner.0 goes to the section
    assert [record.name for record in result.records()] == ["inner.0", "top"]
    assert [record.name for record in result] == ["inner.0", "top"]


# -- other recorders: untouched -------------------------------------------------------------
def hook_dicts(model: nn.Module) -> list[list[tuple[int, Any]]]:
    """Every forward-hook dict of every module, as (id, hook) in order."""
    names = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called")
    return [list(getattr(m, name).items()) for m in model.modules() for name in names]


def annotations(*tensors: torch.Tensor) -> list[tuple[str, str, dict[str, int]] | None]:
    found = [bh.annotation_of(t) for t in tensors]
    return [None if a is None else (repr(a), a.origin, a.sizes) for a in found]


@pytest.mark.parametrize("history", [1, 3])
@pytest.mark.parametrize("forward_fails", [False, True], ids=["runs", "fails"])
def test_summary_leaves_other_recorders_alone(history: int, forward_fails: bool) -> None:
    model = Encoder()
    first = model.lstm.register_forward_hook(lambda *args: None)  # a user's own, before and
    rec = bh.attach_hooks(model, history=history)
    last = model.lstm.register_forward_hook(lambda *args: None)  # after the recorder's
    x, lengths = encoder_inputs()
    logits = model(x, lengths)  # the LSTM twice, then the GRU
    out, (h_n, c_n) = model.lstm(x)  # tensors the user holds
    calls = {name: rec.calls(name) for name in rec.names}
    records = {name: rec.records(name) for name in rec.names}
    latest = rec.last
    held = annotations(out, h_n, c_n)
    hooks = hook_dicts(model)
    if forward_fails:  # after the recurrent calls ran: the head takes 7 features, not 8
        model.head = nn.Linear(7, 2)
        hooks = hook_dicts(model)
        with pytest.raises(RuntimeError, match=r"^Encoder's forward pass failed under torchinfo"):
            bh.summary(model, input_data=encoder_inputs())
    else:
        result = bh.summary(model, input_data=encoder_inputs())
        assert [record.name for record in result] == ["lstm", "lstm", "gru"]  # its own: kept
    assert {name: rec.calls(name) for name in rec.names} == calls
    assert {name: rec.records(name) for name in rec.names} == records  # the same objects
    assert rec.last is latest
    assert annotations(out, h_n, c_n) == held
    assert hook_dicts(model) == hooks  # same ids, same hooks, same order
    if not forward_fails:  # and the user's hooks still record the next call
        model(x, lengths)
        assert rec.calls("lstm") == calls["lstm"] + 2
        assert rec.calls("gru") == calls["gru"] + 1
        assert rec.last is rec["gru"] is not latest
        assert len(rec.records("lstm")) == min(history, calls["lstm"] + 2)
    assert logits.shape == (3, 2)
    first.remove()
    last.remove()
    rec.remove()


def test_two_other_recorders_are_left_alone() -> None:
    lstm = seed_lstm()
    one, two = bh.attach_hooks(lstm), bh.attach_hooks(lstm, history=2)
    lstm(torch.randn(1, 6, 3))
    before = hook_dicts(lstm)
    result = bh.summary(lstm, input_size=(2, 6, 3))
    assert result[lstm].out.sizes["batch"] == 2
    assert (one.calls(lstm), two.calls(lstm)) == (1, 1)
    assert one[lstm].out.sizes["batch"] == two.last.out.sizes["batch"] == 1
    assert hook_dicts(lstm) == before


def test_a_hook_that_removes_itself_during_the_pass_stays_removed() -> None:
    lstm = seed_lstm()
    rec = bh.attach_hooks(lstm)
    handles = []

    def once(*args: Any) -> None:
        handles[0].remove()

    handles.append(lstm.register_forward_hook(once))
    bh.summary(lstm, input_size=(1, 6, 3))
    key = rec._handles[0].id
    assert hook_dicts(lstm) == [[(key, rec._hooks[""].record)], [(key, True)], []]


# -- fallback: what the table cannot hold goes below it -------------------------------------
def test_rows_deeper_than_depth_go_into_the_section() -> None:
    text = str(bh.summary(Encoder(), input_data=encoder_inputs(), depth=0))
    table, section = text.split("Named dims of recurrent calls not shown in the table above:")
    assert "h_n" not in table
    assert "Record 'lstm' (LSTM, 2 layers, bidirectional, batch_first=True, packed), call 1" in (
        section
    )
    assert "Record 'lstm' (LSTM, 2 layers, bidirectional, batch_first=True), call 2" in section
    assert "batch=3 token=4 (direction=2 hidden=4)" in section
    assert "Record 'gru'" in section


def test_falls_back_when_torchinfo_internals_change(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(*args: Any, **kwargs: Any) -> str:
        raise AttributeError("'LayerInfo' object has no attribute 'module'")

    monkeypatch.setattr(_summary_table._NamedDimsFormatting, "layer_info_to_row", changed)
    text = str(bh.summary(seed_lstm(), input_size=(1, 6, 3)))
    plain = str(torchinfo.summary(seed_lstm(), input_size=(1, 6, 3), verbose=0))
    table, section = text.split("Named dims of recurrent calls not shown in the table above:\n")
    assert table.rstrip("\n") == plain.replace("(Units.MEGABYTES)", "(M)")
    assert section.splitlines()[0].startswith("Record '<LSTM>' (LSTM, 2 layers")
    assert "(layer=2 direction=2) batch=1 hidden=4" in section


# -- errors ---------------------------------------------------------------------------------
def test_packed_input_data_is_refused_clearly() -> None:
    packed = pack_padded_sequence(torch.randn(2, 6, 3), [6, 3], batch_first=True)
    with pytest.raises(TypeError, match="torchinfo cannot take a PackedSequence as input_data"):
        bh.summary(seed_lstm(), input_data=[packed])


def test_cache_forward_pass_is_refused() -> None:
    with pytest.raises(ValueError, match="drop cache_forward_pass=True"):
        bh.summary(seed_lstm(), input_size=(1, 6, 3), cache_forward_pass=True)


def test_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"summary expected an nn\.Module, got str"):
        bh.summary("model")  # type: ignore[arg-type]
