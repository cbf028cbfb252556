"""Hooks never change what the model computes, never keep the graph alive, never break it."""

from __future__ import annotations

import copy
import gc
import io
import pickle
import warnings
import weakref
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry
from bilstm_hooks._recording import hook as _hook

SAFETY_SPECS = [
    {"kind": "LSTM", "layers": 2, "bidirectional": True, "batch_first": True},
    {"kind": "LSTM", "layers": 3, "bidirectional": True, "form": "packed_unsorted", "train": True},
    {"kind": "LSTM", "proj_size": 2, "layers": 2, "form": "packed_sorted", "given_state": True},
    {"kind": "GRU", "layers": 3, "bidirectional": True, "batch_first": True, "train": True},
    {"kind": "GRU", "layers": 2, "form": "unbatched", "given_state": True, "train": True},
    {"kind": "RNN_TANH", "layers": 2, "bidirectional": True, "form": "packed_unsorted"},
    {"kind": "RNN_RELU", "layers": 3, "batch_first": True, "train": True, "dtype": torch.float64},
]


def spec_id(spec: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in spec.items()).replace("torch.", "")


def loss_of(case: Any) -> torch.Tensor:
    """A loss that touches out, h_n and c_n, weighted so no gradient is trivially uniform."""
    out = case.out.data if isinstance(case.out, PackedSequence) else case.out
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)
    loss = (out * weights).sum() + (case.h_n**2).sum()
    if case.c_n is not None:
        loss = loss + case.c_n.sum()
    return loss


def grads_after_backward(case: Any) -> dict[str, torch.Tensor]:
    loss_of(case).backward()
    grads = {name: p.grad for name, p in case.layer.named_parameters()}
    grads["<x>"] = case.inputs.x.grad
    if case.inputs.hx is not None:
        states = case.inputs.hx if isinstance(case.inputs.hx, tuple) else (case.inputs.hx,)
        for i, state in enumerate(states):
            grads[f"<hx{i}>"] = state.grad
    return grads


@pytest.mark.parametrize("detach", [True, False], ids=["detach", "keep-graph"])
@pytest.mark.parametrize("spec", SAFETY_SPECS, ids=spec_id)
def test_hooks_change_no_output_and_no_gradient(
    make_config: Any, run: Any, spec: dict[str, Any], detach: bool
) -> None:
    cfg = make_config(**spec)
    bare = run(cfg, hooked=False, requires_grad=True)
    hooked = run(cfg, hooked=True, detach=detach, requires_grad=True)
    # reading the record (padding a packed out, annotating) before backward changes nothing
    record = hooked.record
    assert record.out.sizes["token"] == cfg.padded_tokens
    record.check()

    if cfg.packed:
        assert torch.equal(hooked.out.data, bare.out.data)
        assert torch.equal(hooked.out.batch_sizes, bare.out.batch_sizes)
    else:
        assert torch.equal(hooked.out, bare.out)
    assert torch.equal(hooked.h_n, bare.h_n)
    if cfg.kind == "LSTM":
        assert torch.equal(hooked.c_n, bare.c_n)

    bare_grads, hooked_grads = grads_after_backward(bare), grads_after_backward(hooked)
    assert bare_grads.keys() == hooked_grads.keys()
    for name, grad in bare_grads.items():
        assert grad is not None, name
        assert torch.equal(hooked_grads[name], grad), name


def test_train_mode_with_dropout_is_bitwise_the_same_over_several_steps(
    make_config: Any, factories: Any
) -> None:
    """Dropout draws from the global RNG: a hook that drew from it would shift every mask."""
    cfg = make_config(kind="LSTM", layers=3, bidirectional=True, batch_first=True, train=True)

    def train(hooked: bool) -> list[torch.Tensor]:
        layer = factories.build_layer(cfg)
        rec = bh.attach_hooks(layer) if hooked else None
        opt = torch.optim.SGD(layer.parameters(), lr=0.1)
        torch.manual_seed(1234)
        seen = []
        for _ in range(5):
            out, (h_n, _) = layer(torch.randn(2, 4, 3))
            if rec is not None:
                rec[layer].out  # noqa: B018 - reading a record draws no random numbers
            opt.zero_grad()
            (out.sum() + h_n.sum()).backward()
            opt.step()
            seen += [out.detach(), *(p.detach().clone() for p in layer.parameters())]
        return seen

    bare, hooked = train(False), train(True)
    assert len(bare) == len(hooked)
    assert all(torch.equal(a, b) for a, b in zip(bare, hooked, strict=True))


# -- detach -----------------------------------------------------------------------------------


class Holding(torch.autograd.Function):
    """Identity whose autograd node holds `big`: alive exactly as long as the graph."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        ctx.big = big
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def graph_holding_big(layer: nn.Module, rec: bh.Recorder) -> weakref.ref[torch.Tensor]:
    """Run `layer` on an input whose graph holds a big tensor; drop everything but a weakref."""
    leaf = torch.randn(2, 5, 3, requires_grad=True)
    big = torch.zeros(256, 1024)
    ref = weakref.ref(big)
    out, _ = layer(Holding.apply(leaf, big))
    del big
    assert out.grad_fn is not None
    assert ref() is not None  # the graph holds it while the outputs live
    record = rec[layer]
    assert record.out.tensor.shape == out.shape  # read the record while the graph lives
    return ref


def test_detached_records_hold_no_graph() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(lstm)  # detach=True is the default
    ref = graph_holding_big(lstm, rec)
    gc.collect()
    assert ref() is None  # the recorder is alive; the graph died with the user's outputs
    record = rec[lstm]
    for annotated in (record.input, record.out, record.h_n, record.c_n):
        assert annotated.tensor.grad_fn is None
        assert not annotated.tensor.requires_grad
    assert record.final().grad_fn is None
    record.check()


def test_detach_false_keeps_the_returned_tensors_and_their_graph() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(lstm, detach=False)
    ref = graph_holding_big(lstm, rec)
    gc.collect()
    assert ref() is not None  # the record keeps the graph, as asked
    assert rec[lstm].out.tensor.grad_fn is not None
    rec.clear()
    gc.collect()
    assert ref() is None


def test_detach_false_records_are_the_returned_tensors() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True)
    x = torch.randn(5, 2, 3, requires_grad=True)
    with bh.attach_hooks(lstm, detach=False) as rec:
        out, (h_n, c_n) = lstm(x)
    record = rec[lstm]
    assert record.out.tensor is out
    assert record.h_n.tensor is h_n
    assert record.c_n.tensor is c_n
    assert record.input.tensor is x
    with bh.attach_hooks(lstm) as rec:
        out, (h_n, c_n) = lstm(x)
    record = rec[lstm]
    assert record.h_n.tensor is not h_n
    assert record.h_n.tensor.data_ptr() == h_n.data_ptr()  # detached, not copied


def test_detached_packed_records_hold_no_graph() -> None:
    gru = nn.GRU(3, 4, bidirectional=True)
    packed = nn.utils.rnn.pack_sequence(
        [torch.randn(n, 3, requires_grad=True) for n in (2, 5, 4)], enforce_sorted=False
    )
    with bh.attach_hooks(gru) as rec:
        out, _ = gru(packed)
    assert out.data.grad_fn is not None
    assert rec[gru].out.tensor.grad_fn is None
    assert rec[gru].input.tensor.grad_fn is None
    assert torch.equal(rec[gru].out.tensor, pad_packed_sequence(out)[0])


# -- a failing recording --------------------------------------------------------------------


def test_a_failing_recording_warns_once_and_leaves_the_forward_pass_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True)
    model = nn.ModuleDict({"encoder": lstm})
    x = torch.randn(5, 2, 3)
    bare_out, (bare_h, _) = lstm(x)
    rec = bh.attach_hooks(model)

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_hook.Layout, "of", broken)  # called until a call is recorded
    with pytest.warns(
        RuntimeWarning,
        match=r"^bilstm_hooks could not record a call of 'encoder' \(LSTM\): RuntimeError: boom\. "
        r"The forward pass is unaffected; rec\[\.\.\.\] names the latest cause\. "
        r"Later problems of this module are not warned about\.$",
    ) as caught:
        results = [lstm(x) for _ in range(3)]
    assert len(caught) == 1
    for out, (h_n, _) in results:
        assert torch.equal(out, bare_out)
        assert torch.equal(h_n, bare_h)
    assert rec.calls("encoder") == 0
    with pytest.raises(
        LookupError,
        match=r"^'encoder' \(LSTM\) is hooked, but none of its calls could be recorded "
        r"\(3 failed; the latest because RuntimeError: boom\)$",
    ):
        rec["encoder"]


def test_a_failing_recording_under_warnings_as_errors_leaves_the_forward_pass_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    bare_out, _ = lstm(x)
    rec = bh.attach_hooks(lstm)

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_hook.Layout, "of", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as `python -W error` or pytest's filterwarnings
        out, _ = lstm(x)
        out_again, _ = lstm(x)
    assert torch.equal(out, bare_out)
    assert torch.equal(out_again, bare_out)
    # the warning could not be shown, but its cause is kept
    with pytest.raises(LookupError, match=r"2 failed; the latest because RuntimeError: boom\)$"):
        rec[lstm]


class DictLSTM(nn.LSTM):
    """A subclass computing its outputs itself, returned as the recorder cannot read them."""

    def forward(self, input: Any, hx: Any = None) -> Any:  # type: ignore[override]
        out = input[..., :4]
        return {"out": out, "h_n": out[-1:], "c_n": out[-1:]}


def test_an_unreadable_output_warns_once_with_the_cause() -> None:
    layer = DictLSTM(3, 4)
    rec = bh.attach_hooks(layer)
    x = torch.randn(5, 3)
    with pytest.warns(
        RuntimeWarning, match=r"could not record a call of <DictLSTM>: ValueError: "
    ) as caught:
        results = [layer(x) for _ in range(4)]
    assert len(caught) == 1
    assert caught[0].filename == __file__  # points at the line that called the model
    assert all(set(r) == {"out", "h_n", "c_n"} for r in results)
    assert rec.calls(layer) == 0
    # the warning is per recorder: a new recorder reports its own first failure
    rec.remove()
    bh.attach_hooks(layer)
    with pytest.warns(RuntimeWarning, match=r"could not record") as caught:
        results = [layer(x) for _ in range(2)]
    assert len(caught) == 1
    assert len(results) == 2


# -- copies of a hooked model -------------------------------------------------------------------


def torch_round_trip(model: nn.Module) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


COPIES = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "torch.save": torch_round_trip,
}


@pytest.mark.parametrize("how", COPIES, ids=list(COPIES))
def test_a_hooked_model_can_be_copied_and_the_copy_records_nothing(how: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.GRU(3, 4, batch_first=True, bidirectional=True))
    rec = bh.attach_hooks(model, history=3)
    x = torch.randn(2, 5, 3)
    out, h_n = model(x)
    record = rec.last

    twin = COPIES[how](model)
    assert len(twin[0]._forward_hooks) == 0  # the copy carries no hook of ours
    assert len(twin[0]._forward_hooks_with_kwargs) == 0
    assert len(model[0]._forward_hooks) == 1  # the original keeps its own

    twin_out, twin_h = twin(x)
    assert torch.equal(twin_out, out)
    assert torch.equal(twin_h, h_n)
    assert rec.calls("0") == 1
    assert rec.last is record
    assert len(rec.records("0")) == 1
    assert bh.annotation_of(twin_out) is None  # the copy's outputs are not annotated
    with bh.attach_hooks(twin) as twin_rec:  # and the copy can be hooked on its own
        twin(x)
    assert twin_rec.calls("0") == 1
    assert len(twin[0]._forward_hooks) == 0
    model(x)  # the original still records
    assert rec.calls("0") == 2


def test_hooking_changes_no_state_dict(make_config: Any, factories: Any) -> None:
    cfg = make_config(kind="LSTM", proj_size=2, layers=2, bidirectional=True)
    layer = factories.build_layer(cfg)
    twin = factories.build_layer(cfg)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    rec = bh.attach_hooks(layer)
    layer(torch.randn(5, 2, 3))
    after = layer.state_dict()
    assert list(after) == list(before) == list(twin.state_dict())
    for key, value in before.items():
        assert torch.equal(after[key], value)
        assert torch.equal(twin.state_dict()[key], value)
    rec.remove()
    assert list(layer.state_dict()) == list(before)
    twin.load_state_dict(layer.state_dict())  # strict: the same keys


# -- memory -------------------------------------------------------------------------------------


def live_tensors() -> int:
    # type(), not isinstance(): some objects gc tracks warn when their __class__ is read
    return sum(1 for o in gc.get_objects() if type(o) in (torch.Tensor, nn.Parameter))


def test_memory_stays_flat_over_many_training_steps() -> None:
    torch.manual_seed(0)
    model = nn.ModuleDict({"rnn": nn.LSTM(2, 3, bidirectional=True), "head": nn.Linear(6, 1)})
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    history = 4
    rec = bh.attach_hooks(model, history=history)
    gc.collect()  # earlier tests' tensors in reference cycles: alive to the registry until then
    _registry.size()  # a sweep: the next one is due at twice what is alive now
    sizes, tensors = {}, {}
    stored = 0
    for step in range(1, 2001):
        x = torch.randn(3, 2, 2)
        out, (h_n, c_n) = model["rnn"](x)
        loss = model["head"](torch.cat([h_n[-2], h_n[-1]], dim=-1)).sum() + out.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        record = rec["rnn"]
        record.out  # noqa: B018 - reading annotates (and registers) the kept tensors
        assert bh.annotation_of(h_n) is not None
        assert len(rec.records("rnn")) == min(step, history)
        stored = max(stored, _registry.stored())
        if step in (100, 2000):
            del x, out, h_n, c_n, loss, record
            gc.collect()
            sizes[step] = _registry.size()
            tensors[step] = live_tensors()
    assert rec.calls("rnn") == 2000
    assert sizes[2000] <= sizes[100] + 2
    assert tensors[2000] <= tensors[100] + 2
    assert stored <= 2 * _registry._MIN_SWEEP  # dead entries are swept, never piled up


def test_registry_holds_only_live_tensors() -> None:
    """The control for the memory test: the registry does grow while outputs are kept."""
    gru = nn.GRU(2, 2)
    bh.attach_hooks(gru)
    gc.collect()
    start = _registry.size()
    kept = [gru(torch.randn(3, 2)) for _ in range(10)]
    assert _registry.size() == start + 20  # out and h_n of each call
    del kept
    gc.collect()
    assert _registry.size() == start


def test_hooks_emit_no_warnings(make_config: Any, run: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        case = run(make_config(kind="GRU", layers=2, bidirectional=True, form="packed_unsorted"))
        case.record.check()
        repr(case.rec)
