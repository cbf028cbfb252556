"""The public-model replicas of benchmarks/models/, which benchmarks/locals_coverage.py runs
under a real debugger: each runs, returns the original's shapes, and its stops are where
the locals they list are bound. Fast: no debugger, no hooks."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: never ahead of the bilstm_hooks under test

from benchmarks.models import MODELS, Stop, load, resolve  # noqa: E402


def shapes_of(obj: object) -> object:
    """A tensor by its shape, a tuple or list by its items', anything else by its type."""
    if isinstance(obj, torch.Tensor):
        return tuple(obj.shape)
    if isinstance(obj, tuple):
        return tuple(shapes_of(item) for item in obj)
    if isinstance(obj, list):
        return [shapes_of(item) for item in obj]
    return type(obj).__name__


def holds_tensors(obj: object) -> bool:
    if isinstance(obj, torch.Tensor | PackedSequence):
        return True
    return isinstance(obj, tuple | list) and bool(obj) and all(map(holds_tensors, obj))


def run_stopping(module: ModuleType) -> tuple[object, dict[Stop, dict[str, Any]]]:
    """Run the model's forward once, with the locals of each stop's frame as its line
    is about to run (the first time, as a debugger's first stop there)."""
    torch.manual_seed(0)
    model, inputs = module.make()
    where = {resolve(module, stop): stop for stop in module.STOPS}
    files = {str(path) for path, _ in where}
    seen: dict[Stop, dict[str, Any]] = {}

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        if event == "call":
            return trace if frame.f_code.co_filename in files else None
        stop = where.get((Path(frame.f_code.co_filename), frame.f_lineno))
        if event == "line" and stop is not None and stop not in seen:
            seen[stop] = dict(frame.f_locals)
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        out = model(*inputs)
    finally:
        sys.settrace(previous)
    return out, seen


@pytest.mark.parametrize("name", MODELS)
def test_model_runs_with_the_originals_shapes(name: str) -> None:
    module = load(name)
    model, _ = module.make()
    assert model.training  # what a user debugging a training step sees: dropout on
    assert any(isinstance(m, torch.nn.RNNBase) for m in model.modules())
    out, _ = run_stopping(module)
    assert shapes_of(out) == module.SHAPES
    assert "https://github.com/" in (module.__doc__ or "")  # names the original


@pytest.mark.parametrize("name", MODELS)
def test_stops_list_locals_bound_there(name: str) -> None:
    module = load(name)
    assert module.STOPS
    _, seen = run_stopping(module)
    for stop in module.STOPS:
        assert stop in seen, f"{stop.function}: never reached {stop.line!r}"
        bound = seen[stop]
        assert len(set(stop.derived)) == len(stop.derived), stop
        assert not set(stop.derived) & set(stop.not_counted), stop
        missing = [n for n in (*stop.derived, *stop.not_counted) if n not in bound]
        assert not missing, f"{stop.function} at {stop.line!r}: {missing} not bound"
        for local in stop.derived:
            assert holds_tensors(bound[local]), (stop.function, local, type(bound[local]))


def test_resolve_names_one_line() -> None:
    module = load("word_language_model")
    path, line = resolve(module, module.STOPS[0])
    assert path.name == "word_language_model.py"
    assert path.read_text().splitlines()[line - 1].strip() == module.STOPS[0].line
    with pytest.raises(ValueError, match="0 lines"):
        resolve(module, Stop("RNNModel.forward", "no such line", derived=()))
