"""`bh.check_model` and `bilstm-hooks check` (issue 19, item 4): one step with names
followed, every layout warning reported with its file and line; exit status 1 on any."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._cli.main import main

SOURCE = """
import torch
from torch import nn


class Bad(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])  # BUG LINE


class Good(Bad):
    def forward(self, x):
        out, (h_n, _) = self.rnn(x)
        return self.fc(torch.cat([h_n[-2], h_n[-1]], -1))


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.GRU(3, 4, bidirectional=True)
        self.decoder = nn.GRU(3, 4, num_layers=2)

    def forward(self, x):
        _, hidden = self.encoder(x)
        out, _ = self.decoder(x, hidden[: self.decoder.num_layers])  # HAND-OFF LINE
        return out


class BackwardOnly(Bad):
    def forward(self, x):  # FORWARD LINE
        _, (h_n, _) = self.rnn(x)
        return self.fc(torch.cat([h_n[-1], h_n[-1]], -1))


def not_recurrent():
    return nn.Linear(3, 2)


def keywords():
    return {"x": torch.randn(2, 5, 3)}
"""


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    path = tmp_path / "checked_models.py"
    path.write_text(textwrap.dedent(SOURCE))
    monkeypatch.syspath_prepend(str(tmp_path))
    import checked_models

    yield checked_models
    sys.modules.pop("checked_models", None)


def line_of(module: object, marker: str) -> int:
    lines = Path(module.__file__).read_text().splitlines()  # type: ignore[attr-defined]
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def test_a_bug_is_reported_at_its_line(models: object) -> None:
    report = bh.check_model(models.Bad(), torch.randn(2, 5, 3))  # type: ignore[attr-defined]
    assert not report.ok
    assert len(report) == 1
    assert report.calls == 1
    (finding,) = report
    assert finding.category == "LayoutWarning"
    assert finding.filename == models.__file__  # type: ignore[attr-defined]
    assert finding.lineno == line_of(models, "BUG LINE")
    assert "at its last token, both halves" in finding.message
    assert str(report).startswith("1 layout warning in 1 recurrent call:\n")


def test_correct_code_reports_nothing_and_the_hooks_are_removed(models: object) -> None:
    model = models.Good()  # type: ignore[attr-defined]
    report = bh.check_model(model, torch.randn(2, 5, 3), backward=True)
    assert report.ok
    assert report.findings == ()
    assert str(report) == ("no layout warnings in 1 recurrent call")
    assert model.rnn.weight_ih_l0.grad is not None  # backward ran
    assert not model.rnn._forward_hooks
    assert not model.rnn._forward_pre_hooks
    assert not model._forward_hooks
    assert not model._forward_pre_hooks


def test_the_entrance_checks_are_reported_too(models: object) -> None:
    report = bh.check_model(models.Seq2Seq(), torch.randn(5, 2, 3))  # type: ignore[attr-defined]
    (finding,) = report
    assert finding.lineno == line_of(models, "HAND-OFF LINE")
    assert "encoder's directions become decoder's layers" in finding.message


def test_other_warnings_pass_through_and_bad_arguments_are_refused() -> None:
    class Noisy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            warnings.warn("the model's own", UserWarning, stacklevel=1)
            return self.rnn(x)[0]

    with pytest.warns(UserWarning, match="the model's own"):
        assert bh.check_model(Noisy(), torch.randn(5, 2, 3)).ok
    with pytest.raises(TypeError, match=r"^expected backward as a bool, got 1$"):
        bh.check_model(Noisy(), torch.randn(5, 2, 3), backward=1)  # type: ignore[arg-type]
    with torch.no_grad(), pytest.raises(ValueError, match="requires grad, got none"):
        bh.check_model(Noisy(), torch.randn(5, 2, 3), backward=True)
    with pytest.raises(ValueError, match="has no recurrent layer"):
        bh.check_model(nn.Linear(3, 2), torch.randn(2, 3))


def test_the_command_exits_1_on_a_warning_and_0_without(
    models: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "checked_models:Bad", "--input-size", "2,5,3"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("1 layout warning in 1 recurrent call:\n")
    assert f"checked_models.py:{line_of(models, 'BUG LINE')}: LayoutWarning: rnn.out" in out
    assert main(["check", "checked_models:Good", "--input-size", "2,5,3", "--backward"]) == 0
    assert capsys.readouterr().out == "no layout warnings in 1 recurrent call\n"


def test_the_command_refuses_what_it_cannot_run(
    models: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "checked_models:Good"]) == 2
    assert "give the forward's inputs" in capsys.readouterr().err
    assert main(["check", "checked_models:not_recurrent", "--input-size", "2,3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bilstm-hooks: error: checked_models:not_recurrent failed: ValueError")
    assert "has no recurrent layer" in err
    assert len(err.splitlines()) == 1


def test_the_command_as_a_subprocess(models: object, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bilstm_hooks", "check", "checked_models:Seq2Seq",
         "--input-size", "5,2,3"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "encoder's directions become decoder's layers" in done.stdout


def test_an_unused_direction_is_placed_at_the_models_forward(models: object) -> None:
    report = bh.check_model(models.BackwardOnly(), torch.randn(2, 5, 3))  # type: ignore[attr-defined]
    (finding,) = report
    assert finding.category == "UnusedDirectionWarning"
    assert (finding.filename, finding.lineno) == (
        models.__file__,  # type: ignore[attr-defined]
        line_of(models, "FORWARD LINE"),
    )


def test_the_command_takes_keyword_inputs_and_keeps_the_layers_note(
    models: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "checked_models:Good", "--input-data", "checked_models:keywords"]) == 0
    assert capsys.readouterr().out == "no layout warnings in 1 recurrent call\n"
    assert main(["check", "checked_models:Good", "--input-size", "2,5,4"]) == 2
    err = capsys.readouterr().err
    assert "input.size(-1) must be equal to input_size" in err
    assert "(bilstm_hooks: rnn (LSTM, 1 layer, bidirectional, batch_first=True) expected:" in err
    assert "input as batch token feature = (2, 5, 3)" in err
