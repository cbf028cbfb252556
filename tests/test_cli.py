"""The `bilstm-hooks` command: `demo` and `summary`, in-process and once as a subprocess."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import bilstm_hooks as bh
from bilstm_hooks._cli.arguments import UsageError, load_inputs, load_model, parse_size
from bilstm_hooks._cli.main import main

MODELS = "bh_cli_models"  # a module written for these tests
DOCS_PAGE = Path(__file__).parent.parent / "docs" / "cli.md"
DEMO_INTRO = "The output of `bilstm-hooks demo --no-color`:"


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / f"{MODELS}.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            from torch.nn.utils.rnn import pack_padded_sequence

            lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
            projected = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)

            def build():
                return nn.Sequential(nn.Embedding(10, 3), nn.GRU(3, 5, batch_first=True))

            class Packing(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.rnn = nn.LSTM(3, 4, bidirectional=True, batch_first=True)

                def forward(self, x, lengths):
                    packed = pack_padded_sequence(x, lengths, batch_first=True,
                                                  enforce_sorted=False)
                    return self.rnn(packed)[1][0]

            def batch():
                return torch.randn(3, 6, 3), torch.tensor([4, 6, 2])

            def broken():
                raise RuntimeError("no weights here")

            def not_a_model():
                return 42

            class Oops(Exception):
                pass

            class KeyFails(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.rnn = nn.GRU(3, 4)

                def forward(self, x):
                    self.rnn(x)
                    raise KeyError("no such token")

            class OwnFails(KeyFails):
                def forward(self, x):
                    self.rnn(x)
                    raise Oops("the first line\\n  and the second")

            def packed_batch():
                return pack_padded_sequence(torch.randn(2, 6, 3), [6, 3], batch_first=True)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield MODELS
    sys.modules.pop(MODELS, None)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- demo -----------------------------------------------------------------------------------
def test_demo_walks_through_every_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-color"]) == 0
    out = capsys.readouterr().out
    expected = [
        "out  (1, 6, 8)  batch token (direction hidden)  batch=1 token=6 (direction=2 hidden=4)",
        "h_n  (4, 1, 4)  (layer direction) batch hidden  (layer=2 direction=2) batch=1 hidden=4",
        "batch_first=True does not apply to h_n and c_n",
        "h_n[3]  layer 1 backward  at token 0 (where it ends) == out[:, 0, 4:]",
        "✓ out[:, -1, :4] == h_n[-2]",
        "✓ rec[lstm].check(): every identity holds, per sequence",
        "✗ out[:, -1] != the final state",
        "Each sequence's last valid token is lengths[b] - 1 = [3, 5, 1]",
        "sequence 1 (length 6):  ✓ forward  == out[1, 5, :4]   ✓ backward == out[1, 0, 4:]",
        "sequence 0 (length 4):  ✗ padding, all zeros",
        "sequence 1 (length 6):  ✗ its backward half has read one token",
        "│    └─lengths",
        "packed, lengths [4, 6, 2]",
    ]
    for line in expected:
        assert line in out
    assert "✗" not in "".join(line for line in out.splitlines() if "The right" in line)
    assert "\033[" not in out
    wide = [line for line in out.splitlines() if len(line) > 100]
    assert wide == []  # every line fits in 100 columns


def test_demo_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    for argv, color in ((["demo"], True), (["demo", "--no-color"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        assert main(argv) == 0
        assert ("\033[32m✓" in terminal.getvalue()) is color
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    main(["demo"])
    assert "\033[" not in terminal.getvalue()


def test_demo_on_an_ascii_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["demo"]) == 0
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "ok out[:, -1, :4] == h_n[-2]" in text
    assert "+ LSTM: 1-1" in text


def test_demo_as_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bilstm_hooks", "demo", "--no-color"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "rec[lstm].check(): every identity holds" in done.stdout
    assert "Named dims" in done.stdout


def test_docs_show_the_current_demo(
    overwrite_golden: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/cli.md pastes `bilstm-hooks demo --no-color`; rewritten when golden files are."""
    main(["demo", "--no-color"])
    demo = capsys.readouterr().out
    page = DOCS_PAGE.read_text(encoding="utf-8")
    start = page.index(DEMO_INTRO) + len(DEMO_INTRO)
    begin = page.index("```text\n", start) + len("```text\n")
    end = page.index("```\n", begin)
    if overwrite_golden:
        DOCS_PAGE.write_text(page[:begin] + demo + page[end:], encoding="utf-8")
        return
    assert page[begin:end] == demo


# -- summary --------------------------------------------------------------------------------
def test_summary_of_a_module_object(models: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", f"{models}:lstm", "--input-size", "1,6,3"]) == 0
    out = capsys.readouterr().out
    assert "out  batch=1 token=6 (direction=2 hidden=4)" in out
    assert "c_n  (layer=2 direction=2) batch=1 hidden=4" in out


def test_summary_of_a_projected_lstm_prints_no_torch_kernel_warning(
    models: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["summary", f"{models}:projected", "--input-size", "6,1,3"]) == 0
    assert [str(w.message) for w in caught] == []
    assert "h_n  (layer=2 direction=2) batch=1 hidden=2" in capsys.readouterr().out


def test_summary_of_a_factory_with_spaced_sizes_and_dtype(
    models: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["summary", f"{models}:build", "--input-size", "2", "7", "--dtype", "long"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "out  batch=2 token=7 (direction=1 hidden=5)" in out


def test_summary_with_input_data_packing_inside(
    models: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["summary", f"{models}:Packing", "--input-data", f"{models}:batch", "--depth", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "out  batch=3 token=6 (direction=2 hidden=4), padded" in out
    assert "packed, lengths [4, 6, 2]" in out


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nope", r"bad target 'nope': expected PACKAGE\.MODULE:NAME"),
        ("no_such_module_xyz:f", r"cannot import 'no_such_module_xyz': ModuleNotFoundError"),
        (
            f"{MODELS}:missing",
            rf"module '{MODELS}' has no attribute 'missing'; "
            r"it defines: KeyFails, Oops, OwnFails, Packing, batch, broken, build, lstm, "
            r"not_a_model, packed_batch, projected$",  # not its imports
        ),
        (f"{MODELS}:broken", r"calling it failed: RuntimeError: no weights here"),
        (f"{MODELS}:not_a_model", r"got int, expected an nn\.Module or a function or class"),
    ],
)
def test_bad_target(models: str, target: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_model(target)


def test_bad_input_data(models: str) -> None:
    with pytest.raises(UsageError, match=r"bad --input-data .*: calling it failed: RuntimeError"):
        load_inputs(f"{models}:broken")


@pytest.mark.parametrize(
    "text", [["1,a,3"], ["0,6,3"], [""], ["1", "-6"], ["1,x"], ["1,,3"], ["1,6,3²"], ["1,٣"]]
)
def test_bad_sizes(text: list[str]) -> None:
    with pytest.raises(
        UsageError, match=r"bad --input-size '.*': expected positive ints like 1,6,3"
    ):
        parse_size(text)


def test_sizes() -> None:
    assert parse_size(["1,6,3"]) == parse_size(["1", "6", "3"]) == (1, 6, 3)
    assert parse_size(["1x6x3"]) == parse_size(["1, 6, 3"]) == (1, 6, 3)
    assert parse_size(["7"]) == (7,)


def test_errors_are_printed_with_status_2(models: str, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["summary", "nope", "--input-size", "1,6,3"], "bilstm-hooks: error: bad target 'nope'"),
        (
            ["summary", f"{models}:lstm", "--input-size", "1,6,5"],
            f"error: {models}:lstm failed on input sizes (1, 6, 5): RuntimeError: "
            "input.size(-1) must be equal to input_size. Expected 3, got 5",
        ),
        (["summary", f"{models}:lstm", "--input-size", "1,x"], "bad --input-size '1,x'"),
        (
            ["summary", f"{models}:lstm", "--input-size", "1,6,3", "--input-data", "a:b"],
            "give --input-size or --input-data, not both",
        ),
        (
            ["summary", f"{models}:lstm", "--input-size", "1,6,3", "--dtype", "floaty"],
            "bad --dtype",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert message in captured.err
        assert captured.out == ""


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What `main(argv)` prints on stderr: one line, status 2, nothing on stdout."""
    try:
        status = main(argv)
    except SystemExit as exit_info:  # argparse's own errors
        status = exit_info.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert (status, captured.out, captured.err.count("\n")) == (2, "", 1), captured.err
    return captured.err


POSITIVE = "expected positive ints like 1,6,3 (batch, token, feature for a batch-first model)"
TOO_BIG = "more than 2**31 elements in one tensor; a summary needs no large input"
HUGE = "1" + "0" * 5000  # more digits than int() takes


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input-size", "9223372036854775808,1,3"], f"'9223372036854775808,1,3': {TOO_BIG}"),
        (["--input-size", "9223372036854775807,1,3"], f"'9223372036854775807,1,3': {TOO_BIG}"),
        (["--input-size", "100000,100000,3"], f"'100000,100000,3': {TOO_BIG}"),
        (["--input-size", "2147483649"], f"'2147483649': {TOO_BIG}"),
        (["--input-size", "1", HUGE], f"'1 {HUGE}': {TOO_BIG}"),
        (["--input-size", "-1,6,3"], f"'-1,6,3': {POSITIVE}"),
        (["--input-size=-1,6,3"], f"'-1,6,3': {POSITIVE}"),
        (["--input-size", "1,6,3", "--input-size", "-2x4"], f"'-2x4': {POSITIVE}"),
        (["--input-size", "1", "-6", "3"], f"'1 -6 3': {POSITIVE}"),
    ],
    ids=[
        "over-int64",
        "int64-max",
        "10**10-elements",
        "2**31+1",
        "5001-digits",
        "negative",
        "negative-after-=",
        "negative-second-size",
        "negative-spaced",
    ],
)
def test_bad_input_sizes_are_one_line(
    models: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = error_of(["summary", f"{models}:lstm", *argv], capsys)
    assert err == f"bilstm-hooks: error: bad --input-size {message}\n"


def test_sizes_up_to_the_limit_pass_the_parser() -> None:
    assert parse_size(["2147483648"]) == (2**31,)
    assert parse_size(["0001,0006,0003"]) == (1, 6, 3)
    with pytest.raises(UsageError, match=r"^bad --input-size '0,6': expected positive ints"):
        parse_size(["0,6"])


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--depth", "-5", "an int >= 0"),
        ("--depth", "deep", "an int >= 0"),
        ("--col-width", "0", "an int >= 1"),
        ("--col-width", "-3", "an int >= 1"),
        ("--col-width", "1.5", "an int >= 1"),
    ],
)
def test_bad_depth_and_column_width_are_one_line(
    models: str, option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = error_of(["summary", f"{models}:lstm", "--input-size", "1,6,3", option, value], capsys)
    assert err == (
        f"bilstm-hooks: error: argument {option}: expected {expected}, got {value!r} "
        "(see bilstm-hooks summary --help)\n"
    )


def test_depth_zero_is_the_model_alone(models: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", f"{models}:lstm", "--input-size", "1,6,3", "--depth", "0"]) == 0
    assert "batch=1 token=6 (direction=2 hidden=4)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "inputs", "message"),
    [
        (
            "KeyFails",
            ["--input-size", "6,1,3"],
            "KeyFails failed on input sizes (6, 1, 3): KeyError: 'no such token'",
        ),
        (
            "OwnFails",  # an exception class of its own, with a message of two lines
            ["--input-size", "6,1,3"],
            "OwnFails failed on input sizes (6, 1, 3): Oops: the first line and the second",
        ),
        (
            "lstm",  # bh.summary refuses it with a TypeError
            ["--input-data", f"{MODELS}:packed_batch"],
            f"lstm failed on input data {MODELS}:packed_batch: TypeError: torchinfo cannot "
            "take a PackedSequence as input_data; pass the padded batch and the lengths, "
            "and pack inside the model's forward",
        ),
    ],
    ids=["KeyError", "own-exception-of-two-lines", "TypeError-of-summary"],
)
def test_any_failure_of_the_model_is_one_line(
    models: str,
    target: str,
    inputs: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = error_of(["summary", f"{models}:{target}", *inputs], capsys)
    assert err == f"bilstm-hooks: error: {models}:{message}\n"


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (ZeroDivisionError("boom"), "ZeroDivisionError: boom"),
        (
            RuntimeError(
                "Storage size calculation overflowed\nException raised from computeStorageNbytes"
                " at aten/src/ATen/EmptyTensor.cpp:51 (most recent call first):\nframe #0: c10"
            ),
            "RuntimeError: Storage size calculation overflowed",  # not torch's C++ frames
        ),
    ],
    ids=["ZeroDivisionError", "torch-cpp-frames"],
)
def test_an_unforeseen_failure_is_one_line(
    models: str,
    raised: Exception,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr("bilstm_hooks._cli.main.summary", fails)
    err = error_of(["summary", f"{models}:lstm", "--input-size", "1,6,3"], capsys)
    assert err == f"bilstm-hooks: error: {models}:lstm failed on input sizes (1, 6, 3): {said}\n"


def test_a_size_torch_cannot_take_as_a_subprocess(models: str, tmp_path: Path) -> None:
    argv = ["summary", f"{models}:lstm", "--input-size", "9223372036854775808,1,3"]
    done = subprocess.run(
        [sys.executable, "-m", "bilstm_hooks", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"bilstm-hooks: error: bad --input-size '9223372036854775808,1,3': {TOO_BIG}\n"
    )


def test_argparse_errors_are_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    err = error_of(["summary", "a:b", "--input-size", "1", "--colour"], capsys)
    assert err == (
        "bilstm-hooks: error: unrecognized arguments: --colour (see bilstm-hooks --help)\n"
    )


def test_bad_column_names_list_the_good_ones(
    models: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["summary", f"{models}:lstm", "--input-size", "1,6,3", "--col-names", "output_size,x"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "bilstm-hooks: error: bad --col-names 'output_size,x': expected some of kernel_size, "
        "input_size, output_size, num_params, params_percent, mult_adds, trainable, "
        "comma-separated\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"bilstm-hooks {bh.__version__}\n"


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """`bilstm-hooks demo | head -1`: the pipe closes before the output is written."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "bilstm_hooks", "demo", "--no-color"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    reader.stdout.close()  # before the demo prints: its write meets a closed pipe
    with reader.stderr:
        err = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 1
    assert err == ""


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert error_of([], capsys) == (
        "bilstm-hooks: error: the following arguments are required: COMMAND "
        "(see bilstm-hooks --help)\n"
    )
