"""The `bilstm-hooks` command: `demo` walks through the layouts, `summary` annotates a model,
`check` runs one step of it and reports its layout warnings (exit status 1 on any)."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import torch

from .._base.version import __version__
from .._display.summary import summary
from .._recording.model_check import check_model
from .arguments import (
    UsageError,
    at_least,
    dtypes_of,
    load_inputs,
    load_model,
    parse_columns,
    parse_size,
)
from .demo import demo
from .style import Style

__all__ = ["UsageError", "load_inputs", "load_model", "main", "parse_size"]

PROG = "bilstm-hooks"
# a projected LSTM on CPU: torch says it uses its default kernel, on every call
_ONEDNN = r"LSTM with projections is not supported with oneDNN"


def _one_way(args: argparse.Namespace) -> None:
    """The model's inputs given by sizes or by data, not both."""
    if args.input_size and args.input_data:
        raise UsageError("give --input-size or --input-data, not both")


@contextlib.contextmanager
def _kernel_note_silenced() -> Iterator[None]:
    """Around a run of the user's model: torch's note on its own kernel choice, not theirs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ONEDNN, category=UserWarning)
        yield


def _summary_command(args: argparse.Namespace, style: Style) -> str:
    _one_way(args)
    sizes = [parse_size(size) for size in args.input_size or ()]
    dtypes = dtypes_of(args.dtype, len(sizes))
    model = load_model(args.target)
    kwargs: dict[str, Any] = {"depth": args.depth, "col_width": args.col_width}
    if args.col_names:
        kwargs["col_names"] = parse_columns(args.col_names)
    if dtypes is not None:
        kwargs["dtypes"] = dtypes
    if not style.unicode:
        kwargs["row_settings"] = ("depth", "ascii_only")
    inputs = load_inputs(args.input_data) if args.input_data else None
    given = (
        f"input sizes {', '.join(map(str, sizes))}" if sizes else f"input data {args.input_data}"
    )
    try:
        with _kernel_note_silenced():
            return str(
                summary(
                    model,
                    input_data=inputs,
                    input_size=[*sizes] if sizes else None,
                    device="cpu" if sizes else None,
                    **kwargs,
                )
            )
    except Exception as exc:  # the model's, torchinfo's or ours: one line all the same
        # a failed forward pass: summary's RuntimeError, the model's own error chained
        cause = exc.__cause__ if isinstance(exc, RuntimeError) and exc.__cause__ else exc
        raise UsageError(
            f"{args.target} failed on {given}: {type(cause).__name__}: {cause}"
        ) from exc


def _check_command(args: argparse.Namespace) -> tuple[str, int]:
    """One step of the model with names followed: the report, and 1 if it warned."""
    _one_way(args)
    if not args.input_size and not args.input_data:
        raise UsageError("give the forward's inputs: --input-size (repeatable) or --input-data")
    model = load_model(args.target)
    if args.input_data:
        data = load_inputs(args.input_data)
        keywords = data if isinstance(data, dict) else {}
        inputs = () if keywords else data if isinstance(data, tuple | list) else (data,)
    else:
        sizes = [parse_size(size) for size in args.input_size]
        dtypes = dtypes_of(args.dtype, len(sizes)) or [torch.float32] * len(sizes)
        inputs = [torch.rand(size).to(dtype) for size, dtype in zip(sizes, dtypes, strict=True)]
        keywords = {}
    try:
        with _kernel_note_silenced():
            report = check_model(model, *inputs, backward=args.backward, **keywords)
    except Exception as exc:  # the model's own error, on one line, with our note on it
        notes = " ".join(getattr(exc, "__notes__", ()))
        raise UsageError(
            f"{args.target} failed: {type(exc).__name__}: {exc}" + (f" ({notes})" if notes else "")
        ) from exc
    return str(report), 0 if report.ok else 1


def _one_line(text: str) -> str:
    """A message on one line: torch's C++ frames cut off, the other lines joined."""
    text = text.split("\nException raised from ", 1)[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


# -- entry point ----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with our one-line errors, and `-1,6,3` read as a value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before Python 3.13 a word is a value if it is a number like -1 or -1.5: `-1,6,3`
        # is an unknown option, and `--input-size -1,6,3` fails with "expected at least
        # one argument". Since 3.13 any word that starts -<digit> is a value (while no
        # option looks like a number, as none of ours does); so it is here, on every version.
        self._negative_number_matcher = re.compile(r"-\.?\d")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Named dimensions for PyTorch's nn.LSTM, nn.GRU and nn.RNN outputs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo",
        help="walk through what a bidirectional LSTM returns",
        description="What out, h_n and c_n hold, checked live on the seed model "
        "(3 features, 6 tokens, hidden 4, 2 layers, bidirectional, batch-first).",
    )
    demo_parser.add_argument("--no-color", action="store_true", help="never use ANSI colour")
    sub = commands.add_parser(
        "summary",
        help="torchinfo's summary of a model, with the named dims of its recurrent layers",
        description="torchinfo's summary of any importable model, plus the named dims of "
        "out, h_n and c_n of every recurrent call.",
        epilog="example: bilstm-hooks summary mypkg.models:build_model --input-size 1,6,3",
    )
    _model_arguments(sub)
    sub.add_argument(
        "--depth",
        type=at_least(0),
        default=3,
        metavar="N",
        help="nesting depth shown, 0 or more (default 3)",
    )
    sub.add_argument(
        "--col-names", help="torchinfo columns, e.g. input_size,output_size,num_params"
    )
    sub.add_argument(
        "--col-width",
        type=at_least(1),
        default=14,
        metavar="N",
        help="width of torchinfo's columns, 1 or more (default 14)",
    )
    sub.add_argument("--no-color", action="store_true", help="never use ANSI colour")
    check = commands.add_parser(
        "check",
        help="run one step of a model with names followed; exit 1 on any layout warning",
        description="One forward (and with --backward, one backward) of any importable "
        "model with names followed: every LayoutWarning with its file and line. The exit "
        "status is 1 if there is any, so that a CI job fails on layout bugs.",
        epilog="example: bilstm-hooks check mypkg.models:build_model --input-size 4,12,3",
    )
    _model_arguments(check)
    check.add_argument("--backward", action="store_true", help="run a backward pass too")
    check.add_argument("--no-color", action="store_true", help="never use ANSI colour")
    return parser


def _model_arguments(sub: argparse.ArgumentParser) -> None:
    """The model and its inputs, as `summary` and `check` take them."""
    sub.add_argument(
        "target",
        metavar="PACKAGE.MODULE:FACTORY",
        help="an nn.Module, or a function or class returning one (called without arguments)",
    )
    sub.add_argument(
        "--input-size",
        action="append",
        nargs="+",
        metavar="N",
        help="the shape of one forward argument, e.g. 1,6,3 or 1 6 3, at most 2**31 elements; "
        "repeat for more arguments",
    )
    sub.add_argument(
        "--input-data",
        metavar="PACKAGE.MODULE:NAME",
        help="the forward arguments instead: a tensor, tuple, list or dict (or a function "
        "returning one); needed for lengths and token ids",
    )
    sub.add_argument(
        "--dtype", help="dtype of the --input-size tensors, e.g. long (comma-separated per input)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run `bilstm-hooks`; returns the exit status."""
    args = _parser().parse_args(argv)
    style = Style(sys.stdout, no_color=args.no_color)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current folder is importable
    status = 0
    try:
        if args.command == "check":
            text, status = _check_command(args)
        else:
            text = demo(style) if args.command == "demo" else _summary_command(args, style)
    except Exception as exc:  # a UsageError, or what nothing foresaw: never a traceback
        what = "" if isinstance(exc, UsageError) else f"{type(exc).__name__}: "
        print(f"{PROG}: error: {what}{_one_line(str(exc))}", file=sys.stderr)
        return 2
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        # Python would complain again when it flushes stdout at exit: point it at devnull
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
