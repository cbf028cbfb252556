"""The command line's arguments: a model factory or inputs named by `PACKAGE.MODULE:NAME`,
sizes like `1,6,3`, torchinfo's columns and dtypes, each checked with a one-line error.

Examples:
    >>> parse_size(["1,6,3"])
    (1, 6, 3)
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torchinfo.enums import ColumnSettings

__all__ = [
    "UsageError",
    "at_least",
    "dtypes_of",
    "load_inputs",
    "load_model",
    "parse_columns",
    "parse_size",
]


class UsageError(ValueError):
    """A bad command line: printed as `bilstm-hooks: error: ...`, exit status 2."""


_NAMES_SHOWN = 12  # names listed when a target's attribute is missing
_MAX_ELEMENTS = 2**31  # in one --input-size tensor: 8 GiB of float32, more than a summary needs
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
    """`["1", "6", "3"]`, `["1,6,3"]` or `["1x6x3"]` -> `(1, 6, 3)`; at most 2**31 elements."""
    joined = " ".join(text).strip()
    parts = [p.lstrip("0") for p in re.split(r"\s*[,x×]\s*|\s+", joined)]
    if not all(re.fullmatch(r"[1-9][0-9]*", p) for p in parts):
        raise UsageError(
            f"bad --input-size {joined!r}: expected positive ints like 1,6,3 "
            "(batch, token, feature for a batch-first model)"
        )
    # each is at least 10**(digits - 1): the product of very long ones is never computed
    if sum(len(p) - 1 for p in parts) > 9 or math.prod(map(int, parts)) > _MAX_ELEMENTS:
        raise UsageError(
            f"bad --input-size {joined!r}: more than 2**31 elements in one tensor; "
            "a summary needs no large input"
        )
    return tuple(map(int, parts))


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


def dtypes_of(text: str | None, count: int) -> list[torch.dtype] | None:
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


def at_least(least: int) -> Callable[[str], int]:
    """An argparse `type=`: an int >= `least`, else a one-line error."""

    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected an int >= {least}, got {text!r}")
        return value

    return count
