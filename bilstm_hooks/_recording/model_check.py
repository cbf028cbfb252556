"""`check_model`: one step of a model with names followed, its layout warnings collected.

For a user's own test suite or CI: `assert bh.check_model(model, x).ok` fails on every
`LayoutWarning` (the classic layout bugs, the entrance checks, `UnusedDirectionWarning`)
that one forward (and, with `backward=True`, one backward) raises, each with its file and
line. `bilstm-hooks check` runs it from the command line and exits 1 on any.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._base.arguments import expect_bool
from .._base.callers import INTERNAL
from .._base.errors import LayoutWarning, UnusedDirectionWarning
from .._base.packed import tensors_in
from .recorder import attach_hooks

__all__ = ["Finding", "LayoutReport", "check_model"]


@dataclass(frozen=True)
class Finding:
    """One layout warning: its category's name, message, and the user's file and line."""

    category: str
    message: str
    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}: {self.category}: {self.message}"


@dataclass(frozen=True)
class LayoutReport:
    """What `check_model` found: every distinct layout warning, in the order raised.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> report = bh.check_model(torch.nn.LSTM(3, 4), torch.randn(5, 2, 3))
        >>> report.ok, len(report), report.calls
        (True, 0, 1)
        >>> print(report)
        no layout warnings in 1 recurrent call
    """

    findings: tuple[Finding, ...]
    calls: int  # the recurrent calls the step made (that the hooks recorded)

    @property
    def ok(self) -> bool:
        """Whether no layout warning was raised."""
        return not self.findings

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __str__(self) -> str:
        calls = f"{self.calls} recurrent call{'s' if self.calls != 1 else ''}"
        if self.ok:
            return f"no layout warnings in {calls}"
        count = f"{len(self)} layout warning{'s' if len(self) != 1 else ''}"
        return "\n".join([f"{count} in {calls}:", *map(str, self.findings)])


def check_model(
    model: nn.Module, *inputs: Any, backward: bool = False, **keywords: Any
) -> LayoutReport:
    """Run `model(*inputs, **keywords)` once with names followed, and report its layout
    warnings.

    Hooks are attached for the step (`attach_hooks(model, follow=True)`) and removed
    after it; the model's outputs are not kept. `backward=True` then runs a backward
    pass from the sum of every floating-point tensor output that requires grad (the
    warnings of a state carried into it are the forward's). Warnings of other kinds
    are passed on as they were raised. An `UnusedDirectionWarning`, which a forward
    raises as it returns, is placed at the `def forward` of the model's class.

    Raises:
        TypeError: `model` is not an `nn.Module`, or `backward` not a bool.
        ValueError: `model` holds no recurrent layer, or `backward=True` and no output
            requires grad.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> class Classifier(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.rnn = torch.nn.GRU(3, 4, bidirectional=True, batch_first=True)
        ...         self.fc = torch.nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         out, h_n = self.rnn(x)
        ...         return self.fc(out[:, -1])  # the classic: both halves at the last token
        >>> report = bh.check_model(Classifier(), torch.randn(2, 5, 3))
        >>> report.ok, report.findings[0].category
        (False, 'LayoutWarning')
    """
    expect_bool("backward", backward)
    recorder = attach_hooks(model, follow=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            output = model(*inputs, **keywords)
            if backward:
                _backward(output)
            calls = recorder.calls()
    finally:
        recorder.remove()
    findings: list[Finding] = []
    for warning in caught:
        if not issubclass(warning.category, LayoutWarning):  # not ours to report: passed on
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
            continue
        filename, lineno = warning.filename, warning.lineno
        if issubclass(warning.category, UnusedDirectionWarning):  # at the forward's end
            filename, lineno = _forward_line(model, filename, lineno)
        finding = Finding(warning.category.__name__, str(warning.message), filename, lineno)
        if finding not in findings:
            findings.append(finding)
    return LayoutReport(tuple(findings), calls)


def _forward_line(model: nn.Module, filename: str, lineno: int) -> tuple[str, int]:
    """Where the model's class defines `forward`, or the place given where it has none
    of its own (a plain `nn.LSTM`)."""
    code = getattr(type(model).forward, "__code__", None)
    if code is None or code.co_filename.startswith(INTERNAL):
        return filename, lineno
    return code.co_filename, code.co_firstlineno


def _backward(output: Any) -> None:
    tensors = [t for t in tensors_in(output) if t.is_floating_point() and t.requires_grad]
    if not tensors:
        raise ValueError(
            "expected backward=True to find an output that requires grad, got none: the "
            "model's outputs are not floating-point tensors with a graph (under no_grad?)"
        )
    torch.stack([t.sum() for t in tensors]).sum().backward()  # type: ignore[no-untyped-call]
