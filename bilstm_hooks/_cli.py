"""The `bilstm-hooks` command: `demo` walks through the layouts, `summary` annotates a model."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torchinfo.enums import ColumnSettings

from . import __version__
from ._helpers import last_outputs
from ._recorder import attach_hooks
from ._summary import summary

__all__ = ["UsageError", "load_inputs", "load_model", "main", "parse_size"]

PROG = "bilstm-hooks"


class UsageError(ValueError):
    """A bad command line: printed as `bilstm-hooks: error: ...`, exit status 2."""


_ASCII = str.maketrans({"·": ".", "×": "x", "→": "->", "←": "<-"})


# -- output style ---------------------------------------------------------------------------
class _Style:
    """ANSI colour only on a terminal (and no NO_COLOR, no --no-color); ASCII if need be."""

    def __init__(self, stream: TextIO, *, no_color: bool) -> None:
        isatty = getattr(stream, "isatty", None)
        self.color = not no_color and not os.environ.get("NO_COLOR") and bool(isatty and isatty())
        encoding = getattr(stream, "encoding", None)  # None: a text buffer, anything goes
        try:
            "✓✗├─│└·×→←".encode(encoding or "utf-8")
            self.unicode = True
        except (UnicodeEncodeError, LookupError):
            self.unicode = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def heading(self, text: str) -> str:
        return self._sgr("1;36", text)

    def code(self, text: str) -> str:
        return self._sgr("33", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def ok(self, text: str = "") -> str:
        return self._sgr("32", ("✓" if self.unicode else "ok") + (f" {text}" if text else ""))

    def bad(self, text: str = "") -> str:
        return self._sgr("31", ("✗" if self.unicode else "X ") + (f" {text}" if text else ""))

    def plain(self, text: str) -> str:
        if self.unicode:
            return text
        return text.translate(_ASCII)


# -- demo -----------------------------------------------------------------------------------
class Encoder(nn.Module):
    """The demo's model: packs a padded batch inside `forward`, as real models do."""

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)


_ENCODER_SOURCE = (
    "class Encoder(nn.Module):",
    "    def __init__(self, lstm):",
    "        super().__init__()",
    "        self.lstm = lstm",
    "",
    "    def forward(self, x, lengths):",
    "        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
    "        _, (h_n, _) = self.lstm(packed)",
    "        return torch.cat([h_n[-2], h_n[-1]], dim=-1)",
)


def _seed_model() -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def demo(style: _Style) -> str:
    """The walk-through, as text."""
    s = style
    lines: list[str] = []
    add = lines.append

    def check(holds: bool, text: str) -> None:
        add(f"  {s.ok() if holds else s.bad()} {text}")

    lstm = _seed_model()
    x = torch.randn(1, 6, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), attach_hooks(lstm) as rec:
        out, (h_n, c_n) = lstm(x)
    r = rec[lstm]
    add(s.heading("bilstm-hooks demo: what a bidirectional nn.LSTM returns, with named dims"))
    add("")
    add(s.code("  lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)"))
    add(s.code("  x = torch.randn(1, 6, 3)") + s.dim("      # batch=1 token=6 feature=3"))
    add(s.code("  out, (h_n, c_n) = lstm(x)"))
    add("")

    add(s.heading("1. out: the last layer's output at every token"))
    add(f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}")
    add("  The last axis is (direction hidden): forward, then backward.")
    add(f"    {s.code('out[..., :4]')}  forward:  token t has read tokens 0..t")
    add(f"    {s.code('out[..., 4:]')}  backward: token t has read tokens t..5")
    fwd = r.out.split_directions()[0]
    add(f"    {s.code('fwd, bwd = rec[lstm].out.split_directions()')}  {s.dim(f'# {fwd!r}')}")
    add("")

    add(s.heading("2. h_n and c_n: every layer's state after its last step"))
    add(f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} {r.h_n.axes.described()}")
    assert r.c_n is not None
    add(f"  c_n  {tuple(c_n.shape)}  {r.c_n.pattern:<31} {r.c_n.axes.described()}")
    add("  batch_first=True does not apply to h_n and c_n: batch is their second axis.")
    add("  Rows are layer-major, direction-minor:")
    last = r.layout.layers - 1
    for row in range(h_n.shape[0]):
        layer, d = divmod(row, 2)
        where = "token 5 (the last)" if d == 0 else "token 0 (where it ends)"
        same = ""
        if layer == last:
            same = "== out[:, -1, :4]" if d == 0 else "== out[:, 0, 4:]"
        direction = "forward " if d == 0 else "backward"
        add(f"    h_n[{row}]  layer {layer} {direction}  at {where:<24}{s.dim(same)}".rstrip())
    add(f"  {s.code('h_n[-1]')} alone is the BACKWARD direction of the last layer only.")
    add("")

    add(s.heading("3. The identities, checked on these tensors"))
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    check(
        torch.allclose(out[:, -1, :4], h_n[-2]),
        "out[:, -1, :4] == h_n[-2]   forward half at the last token",
    )
    check(
        torch.allclose(out[:, 0, 4:], h_n[-1]),
        "out[:, 0, 4:]  == h_n[-1]   backward half at token 0",
    )
    check(
        torch.allclose(r.final(), final),
        "rec[lstm].final() == torch.cat([h_n[-2], h_n[-1]], dim=-1)",
    )
    r.check()
    check(True, "rec[lstm].check(): every identity holds")
    wrong = _diff(out[:, -1], final)
    add(
        f"  {s.bad()} out[:, -1] != the final state: its backward half has read one token "
        f"(max |difference| {wrong:.2f})"
    )
    add("")

    lengths = torch.tensor([4, 6, 2])
    xb = torch.randn(3, 6, 3, generator=torch.Generator().manual_seed(2))
    for b, n in enumerate(lengths.tolist()):
        xb[b, n:] = 0.0
    packed_in = pack_padded_sequence(xb, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad(), attach_hooks(lstm) as rec:
        packed_out, (h_n, c_n) = lstm(packed_in)
    r = rec[lstm]
    out, _ = pad_packed_sequence(packed_out, batch_first=True)
    add(s.heading("4. A padded batch packed with unequal lengths"))
    add(s.code("  lengths = torch.tensor([4, 6, 2])") + s.dim("   # x: (3, 6, 3), zero-padded"))
    add(
        s.code(
            "  packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)"
        )
    )
    add(s.code("  out, (h_n, c_n) = lstm(packed)"))
    add(s.code("  out, _ = pad_packed_sequence(out, batch_first=True)"))
    add(f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}, padded")
    add(f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} in the original batch order")
    add("  Each sequence's last valid token is lengths[b] - 1 = " + str((lengths - 1).tolist()))
    add("")
    add(
        "  The right final state: "
        + s.code("torch.cat([h_n[-2], h_n[-1]], dim=-1)")
        + ", or rec[lstm].final()"
    )
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    for b, n in enumerate(lengths.tolist()):
        fwd_ok = torch.allclose(out[b, n - 1, :4], h_n[-2, b])
        bwd_ok = torch.allclose(out[b, 0, 4:], h_n[-1, b])
        add(
            f"    sequence {b} (length {n}):  "
            f"{s.ok() if fwd_ok else s.bad()} forward  == out[{b}, {n - 1}, :4]   "
            f"{s.ok() if bwd_ok else s.bad()} backward == out[{b}, 0, 4:]"
        )
    check(torch.allclose(r.final(), final), "rec[lstm].final() gives it for every sequence")
    from_out = last_outputs(out, lengths, module=lstm)
    check(
        torch.allclose(from_out, final),
        "bh.last_outputs(out, lengths, module=lstm): the same, from out",
    )
    r.check()
    check(True, "rec[lstm].check(): every identity holds, per sequence")
    add("")
    add("  The wrong final state: " + s.code("out[:, -1]"))
    for b, n in enumerate(lengths.tolist()):
        if n < out.shape[1]:
            zero = bool((out[b, -1] == 0).all())
            why = "padding, all zeros" if zero else "padding"
        else:
            why = "its backward half has read one token"
        add(
            f"    sequence {b} (length {n}):  {s.bad()} {why:<37} "
            f"max |difference| {_diff(out[b, -1], final[b]):.2f}"
        )
    add("")

    add(s.heading("5. The summary: torchinfo's table plus out, h_n and c_n"))
    add("  A model that packs inside forward, as real ones do:")
    for line in _ENCODER_SOURCE:
        add(s.code(f"    {line}") if line else "")
    add(
        s.code(
            "  print(bh.summary(Encoder(lstm), input_data=(x, lengths), col_names=['output_size']))"
        )
    )
    rows = () if s.unicode else ("depth", "ascii_only")
    table = summary(
        Encoder(lstm),
        input_data=(xb, lengths),
        col_names=["output_size"],
        col_width=14,
        **({"row_settings": rows} if rows else {}),
    )
    lines += str(table).splitlines()
    add("")
    add(s.heading("Next"))
    add("  In Jupyter, rec[lstm] shows these tables and a diagram of the unrolled layers;")
    add("  " + s.code('rec[lstm].diagram().save("lstm.svg")') + " saves the diagram.")
    add(
        "  "
        + s.code(f"{PROG} summary PACKAGE.MODULE:FACTORY --input-size 1,6,3")
        + " annotates your model."
    )
    return "\n".join(s.plain(line) if not s.unicode else line for line in lines)


# -- summary --------------------------------------------------------------------------------
_NAMES_SHOWN = 12  # names listed when a target's attribute is missing
_COLUMNS = tuple(column.value for column in ColumnSettings)


def parse_columns(text: str) -> list[str]:
    """`"output_size,num_params"` -> torchinfo's `col_names`, checked."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [n for n in names if n not in _COLUMNS]
    if bad or not names:
        raise UsageError(
            f"bad --col-names {text!r}: expected some of {', '.join(_COLUMNS)}, comma-separated"
        )
    return names


def parse_size(text: Sequence[str]) -> tuple[int, ...]:
    """`["1", "6", "3"]`, `["1,6,3"]` or `["1x6x3"]` -> `(1, 6, 3)`."""
    joined = " ".join(text).strip()
    parts = re.split(r"\s*[,x×]\s*|\s+", joined)
    size = tuple(int(p) for p in parts if re.fullmatch(r"[0-9]+", p))
    if len(size) != len(parts) or not size or any(n < 1 for n in size):
        raise UsageError(
            f"bad --input-size {joined!r}: expected positive ints like 1,6,3 "
            "(batch, token, feature for a batch-first model)"
        )
    return size


def _import_attr(target: str, what: str) -> Any:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(
            f"bad {what} {target!r}: expected PACKAGE.MODULE:NAME, e.g. mypkg.models:build_model"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(
            f"bad {what} {target!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            # what the module defines itself, not what it imported
            names = sorted(
                n
                for n, v in vars(module).items()
                if not n.startswith("_")
                and not isinstance(v, types.ModuleType)
                and not (isinstance(v, type | types.FunctionType) and v.__module__ != module_name)
            )
            shown = ", ".join(names[:_NAMES_SHOWN]) or "(nothing public)"
            if len(names) > _NAMES_SHOWN:
                shown += f", ... ({len(names) - _NAMES_SHOWN} more)"
            raise UsageError(
                f"bad {what} {target!r}: module {module_name!r} has no attribute {attr!r}; "
                f"it defines: {shown}"
            ) from None
    return obj


def _call(target: str, what: str, factory: Callable[[], Any]) -> Any:
    try:
        return factory()
    except Exception as exc:
        raise UsageError(
            f"bad {what} {target!r}: calling it failed: {type(exc).__name__}: {exc}"
        ) from exc


def load_model(target: str) -> nn.Module:
    """The model named by `PACKAGE.MODULE:FACTORY`: a module, or a callable returning one."""
    model = _import_attr(target, "target")
    if not isinstance(model, nn.Module) and callable(model):
        model = _call(target, "target", model)
    if not isinstance(model, nn.Module):
        raise UsageError(
            f"bad target {target!r}: got {type(model).__qualname__}, expected an nn.Module "
            "or a function or class that returns one when called without arguments"
        )
    return model


def load_inputs(target: str) -> Any:
    """The forward arguments named by `PACKAGE.MODULE:NAME`: a value, or a callable giving one."""
    obj = _import_attr(target, "--input-data")
    if callable(obj) and not isinstance(obj, torch.Tensor):
        obj = _call(target, "--input-data", obj)
    return obj


def _dtypes(text: str | None, count: int) -> list[torch.dtype] | None:
    if text is None:
        return None
    dtypes = []
    for name in text.split(","):
        dtype = getattr(torch, name.strip().removeprefix("torch."), None)
        if not isinstance(dtype, torch.dtype):
            raise UsageError(
                f"bad --dtype {name!r}: expected a torch dtype such as float32 or long"
            )
        dtypes.append(dtype)
    if len(dtypes) == 1:
        dtypes *= count
    if len(dtypes) != count:
        raise UsageError(f"got {len(dtypes)} --dtype values for {count} --input-size values")
    return dtypes


def _summary_command(args: argparse.Namespace, style: _Style) -> str:
    if args.input_size and args.input_data:
        raise UsageError("give --input-size or --input-data, not both")
    sizes = [parse_size(size) for size in args.input_size or ()]
    dtypes = _dtypes(args.dtype, len(sizes))
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
        result = summary(
            model,
            input_data=inputs,
            input_size=[*sizes] if sizes else None,
            device="cpu" if sizes else None,
            **kwargs,
        )
    except RuntimeError as exc:
        cause = exc.__cause__ or exc
        raise UsageError(
            f"{args.target} failed on {given}: {type(cause).__name__}: {cause}"
        ) from exc
    except ValueError as exc:
        raise UsageError(f"{args.target} with {given}: {exc}") from exc
    return str(result)


# -- entry point ----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        help="the shape of one forward argument, e.g. 1,6,3 or 1 6 3; repeat for more arguments",
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
    sub.add_argument("--depth", type=int, default=3, help="nesting depth shown (default 3)")
    sub.add_argument(
        "--col-names", help="torchinfo columns, e.g. input_size,output_size,num_params"
    )
    sub.add_argument(
        "--col-width", type=int, default=14, help="width of torchinfo's columns (default 14)"
    )
    sub.add_argument("--no-color", action="store_true", help="never use ANSI colour")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `bilstm-hooks`; returns the exit status."""
    args = _parser().parse_args(argv)
    style = _Style(sys.stdout, no_color=args.no_color)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current folder is importable
    try:
        text = demo(style) if args.command == "demo" else _summary_command(args, style)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        # Python would complain again when it flushes stdout at exit: point it at devnull
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
