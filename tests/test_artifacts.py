"""Saved, traced, scripted, exported and compiled hooked models, and outputs the hook cannot read.

A saved model must load where bilstm_hooks is not installed; tracing, export and
compiling must neither fail because of the hooks nor be recorded as calls.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import bilstm_hooks as bh

# A process in which `import bilstm_hooks` fails, as where it is not installed.
WITHOUT_US = 'import sys; sys.modules["bilstm_hooks"] = None\nimport torch\n'


def load_elsewhere(path: Path, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_US + code.format(path=str(path))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.encoder(x)
        return self.head(out)


def saved_model() -> nn.ModuleDict:
    """Built from torch's classes only, so that another process can load it."""
    torch.manual_seed(0)
    return nn.ModuleDict(
        {"encoder": nn.LSTM(3, 4, bidirectional=True, batch_first=True), "head": nn.Linear(8, 2)}
    )


def test_a_model_saved_while_hooked_loads_without_bilstm_hooks_unhooked(tmp_path: Path) -> None:
    model = saved_model()
    rec = bh.attach_hooks(model)
    x = torch.randn(2, 5, 3)
    expected, _ = model["encoder"](x)
    torch.save(model, tmp_path / "model.pt")
    torch.save(x, tmp_path / "x.pt")
    printed = load_elsewhere(
        tmp_path,
        "m = torch.load('{path}/model.pt', weights_only=False)['encoder']\n"
        "x = torch.load('{path}/x.pt')\n"
        "print(len(m._forward_hooks), len(m._forward_hooks_with_kwargs))\n"
        "torch.save(m(x)[0], '{path}/y.pt')\n",
    )
    assert printed == "0 0"
    assert torch.equal(torch.load(tmp_path / "y.pt"), expected)
    assert len(model["encoder"]._forward_hooks) == 1  # saving took nothing off the original
    model["encoder"](x)
    assert rec.calls("encoder") == 2


def test_weights_only_loading_needs_the_same_classes_hooked_or_not(tmp_path: Path) -> None:
    model = saved_model()
    torch.save(model, tmp_path / "bare.pt")
    bh.attach_hooks(model)
    model["encoder"](torch.randn(2, 5, 3))
    torch.save(model, tmp_path / "hooked.pt")
    code = (
        "from collections import OrderedDict\n"
        "from torch import nn\n"
        "for name in ('bare', 'hooked'):\n"
        "    try:\n"
        "        torch.load(f'{path}/{{name}}.pt', weights_only=True)\n"
        "    except Exception:\n"
        "        print(name, 'refused')\n"
        "    allowed = [nn.ModuleDict, nn.LSTM, nn.Linear, OrderedDict]\n"
        "    with torch.serialization.safe_globals(allowed):\n"
        "        torch.load(f'{path}/{{name}}.pt', weights_only=True)\n"
        "    print(name, 'loaded')\n"
    )
    assert load_elsewhere(tmp_path, code).splitlines() == [
        "bare refused",
        "bare loaded",
        "hooked refused",
        "hooked loaded",
    ]


@pytest.mark.filterwarnings("ignore:`torch.jit.trace.* is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # torch's own, about LSTM's code
def test_jit_trace_works_with_its_default_check_and_records_no_traced_call() -> None:
    torch.manual_seed(0)
    model = Tagger()
    rec = bh.attach_hooks(model)
    x = torch.randn(2, 5, 3)
    traced = torch.jit.trace(model, x)  # check_trace=True: reruns and compares
    assert torch.allclose(traced(x), model(x))
    for record in rec.records("encoder"):  # only eager calls: the check's and ours
        assert all(isinstance(n, int) for n in record.out.sizes.values())
        record.check()


@pytest.mark.filterwarnings("ignore:`torch.jit.script.* is deprecated:DeprecationWarning")
def test_jit_script_of_a_hooked_layer_says_to_remove_the_hooks_first() -> None:
    lstm = nn.LSTM(3, 4)
    rec = bh.attach_hooks(nn.Sequential(lstm))
    with pytest.raises(RuntimeError, match=r"^cannot script this LSTM while bilstm_hooks hooks it"):
        torch.jit.script(lstm)
    rec.remove()
    # unhooked again, it scripts as a never-hooked LSTM does (in torch 2.13 that fails)
    assert script_outcome(lstm) == script_outcome(nn.LSTM(3, 4))


def script_outcome(module: nn.Module) -> str:
    try:
        torch.jit.script(module)
    except Exception as exc:  # whatever torch itself does
        return f"{type(exc).__name__}: {exc}"
    return "scripted"


@pytest.mark.filterwarnings("ignore:The tensor attributes self._flat_weights")  # torch's own
def test_torch_export_runs_on_fake_tensors_which_are_not_recorded() -> None:
    lstm = nn.LSTM(3, 4)
    rec = bh.attach_hooks(lstm)
    torch.export.export(lstm, (torch.randn(5, 2, 3),))
    assert rec.calls(lstm) == 0
    with pytest.raises(LookupError, match=r"its 1 call\(s\) were traced or ran on fake tensors"):
        rec[lstm]
    lstm(torch.randn(5, 2, 3))
    rec[lstm].check()


def test_a_call_on_fake_tensors_is_not_recorded() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        lstm = nn.GRU(3, 4)
        rec = bh.attach_hooks(lstm)
        lstm(torch.randn(5, 2, 3))
    assert rec.calls(lstm) == 0


# torch's own: dynamo reads .grad of the tensors it traces, under -W error that raises in dynamo
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated")
def test_a_compiled_model_records_its_real_calls() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True)
    rec = bh.attach_hooks(lstm)
    compiled = torch.compile(lstm)
    x = torch.randn(5, 2, 3)
    out, _ = compiled(x)
    assert rec.calls(lstm) >= 1
    assert torch.allclose(out, lstm(x)[0])
    rec[lstm].check()


def test_check_of_a_meta_device_call_says_why_it_cannot_check() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True, device="meta")
    rec = bh.attach_hooks(lstm)
    lstm(torch.randn(5, 2, 3, device="meta"))
    assert rec[lstm].out.sizes == {"token": 5, "batch": 2, "direction": 2, "hidden": 4}
    with pytest.raises(ValueError, match=r"cannot check the identities of a call on the meta"):
        rec[lstm].check()


# -- outputs the hook cannot read -------------------------------------------------------------


class OutOnly(nn.LSTM):
    def forward(self, input: Any, hx: Any = None) -> Any:  # type: ignore[override]
        return super().forward(input, hx)[0]


class StateFirst(nn.GRU):
    def forward(self, input: Any, hx: Any = None) -> Any:  # type: ignore[override]
        out, h_n = super().forward(input, hx)
        return h_n, out


@pytest.mark.parametrize("cls", [OutOnly, StateFirst])
def test_a_subclass_that_reshapes_what_the_parent_returns_is_recorded_as_the_layer_ran(
    cls: type[nn.RNNBase],
) -> None:
    layer = cls(3, 4)
    rec = bh.attach_hooks(layer)
    x = torch.randn(2, 5, 3)  # two rows: `out, state = out` would unpack it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x)
    assert rec.calls(layer) == 1  # the parent's call, not the subclass's as well
    assert rec[layer].out.sizes == {"token": 2, "batch": 5, "direction": 1, "hidden": 4}
    rec[layer].check()


class OwnOutput(nn.LSTM):  # never calls the parent's forward: nothing of the layer's ran
    def forward(self, input: Any, hx: Any = None) -> Any:  # type: ignore[override]
        return input[..., :4]


class OwnOutputsStateFirst(nn.GRU):
    def forward(self, input: Any, hx: Any = None) -> Any:  # type: ignore[override]
        return torch.zeros(1, input.shape[1], 4), torch.zeros(*input.shape[:2], 4)


def test_a_subclass_returning_only_out_of_its_own_warns_once_with_the_cause() -> None:
    layer = OwnOutput(3, 4)
    rec = bh.attach_hooks(layer)
    x = torch.randn(2, 5, 4)  # two rows: `out, state = out` would unpack it
    with pytest.warns(
        RuntimeWarning,
        match=r"could not record a call of <OwnOutput>: ValueError: expected the forward to "
        r"return \(out, \(h_n, c_n\)\) as nn\.OwnOutput does; got tensor \(2, 5, 4\)\.",
    ) as caught:
        results = [layer(x) for _ in range(2)]
    assert len(caught) == 1
    assert all(isinstance(result, torch.Tensor) for result in results)
    with pytest.raises(LookupError, match=r"none of its calls could be recorded \(2 failed"):
        rec[layer]


def test_a_subclass_returning_state_first_of_its_own_warns_and_check_says_what_differs() -> None:
    layer = OwnOutputsStateFirst(3, 4)
    rec = bh.attach_hooks(layer)
    with pytest.warns(
        RuntimeWarning,
        match=r"recorded a call of <OwnOutputsStateFirst> whose outputs are not laid out as "
        r"they should be: .*out token batch \(direction hidden\) = \(5, 2, \(1 4\)\), "
        r"got \(1, 2, 4\)",
    ):
        layer(torch.randn(5, 2, 3))
    with pytest.raises(bh.LayoutError, match=r"out should be token batch \(direction hidden\)"):
        rec[layer].check()


def test_a_correct_layer_never_warns(layout_matrix: list[Any], run: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for cfg in layout_matrix[:40]:
            run(cfg)


def test_the_initial_state_given_is_kept_detached(make_config: Any, run: Any) -> None:
    for kind in ("LSTM", "GRU"):
        case = run(make_config(kind=kind, layers=2, given_state=True, batch_first=True))
        record = case.rec.last
        assert record.h_0 is not None
        assert record.h_0.grad_fn is None
        assert (record.c_0 is not None) == (kind == "LSTM")
    plain = run(make_config(kind="LSTM")).rec.last
    assert plain.h_0 is None
    assert plain.c_0 is None


def test_tensors_changed_in_place_are_not_named_any_more() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True)
    bh.attach_hooks(lstm)
    out, (h_n, _) = lstm(torch.randn(4, 4, 3))  # tokens == batch: a transpose keeps the shape
    assert bh.annotation_of(out) is not None
    with torch.no_grad():
        out.transpose_(0, 1)
    assert bh.annotation_of(out) is None  # never a wrong layout
    assert bh.describe(out) == (
        "tensor shape=(4, 4, 8) · float32 cpu · was <LSTM>.out, changed in place since: "
        "its names may be stale"
    )
    assert bh.annotation_of(h_n) is not None  # untouched
