"""The debugger adapter: value lines and children, metadata only; and the pydevd plugin on it.

The real debuggers are driven in test_debugger_e2e.py; here the same functions are
called directly over the whole layout matrix.
"""

from __future__ import annotations

import ast
import gc
import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence
from torch.utils._python_dispatch import TorchDispatchMode

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry
from bilstm_hooks._display import debugger as _debugger
from bilstm_hooks._display.debugger import Children, Deferred, children, value_text
from bilstm_hooks._display.tensor_text import shaped

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_MODULE = "pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks"


def line(obj: Any) -> str:
    """The debugger's value line of `obj`: `bh.describe`, with the plain shape after the
    names of a tensor whose axis fuses names (`(direction=2 hidden=64)` is 128 wide)."""
    found = bh.annotation_of(obj) if isinstance(obj, torch.Tensor | bh.AnnotatedTensor) else None
    return shaped(bh.describe(obj), found.axes) if found is not None else bh.describe(obj)


def evaluate(parent: str, expr: Any, scope: dict[str, Any]) -> Any:
    """What a debugger's watch pane gets for a child's evaluateName."""
    text = expr(parent) if callable(expr) else parent + expr
    return eval(text, scope)


def shown(expr: Any) -> Any:
    """An evaluateName as a debugger shows it for a variable named `v`."""
    return expr("v") if callable(expr) else expr


def real(value: Any) -> Any:
    return value.get() if isinstance(value, Deferred) else value


def tensors_of(case: Any) -> dict[str, torch.Tensor | PackedSequence]:
    found = {"out": case.out, "h_n": case.h_n}
    if case.c_n is not None:
        found["c_n"] = case.c_n
    return found


class _Ops(TorchDispatchMode):
    """Records every aten op other than a view that touches the watched tensors' memory."""

    def __init__(self, watched: list[torch.Tensor]) -> None:
        super().__init__()
        self.storages = {t.untyped_storage().data_ptr() for t in watched}
        self.touched: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        flat = [*args, *(kwargs or {}).values()]
        if not func.is_view and any(
            isinstance(a, torch.Tensor) and a.untyped_storage().data_ptr() in self.storages
            for a in flat
        ):
            self.touched.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


# -- value text ------------------------------------------------------------------------------
def test_the_seed_models_values() -> None:
    lstm = torch.nn.LSTM(3, 64, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(4, 12, 3))
    assert value_text(out) == (
        "batch=4 token=12 (direction=2 hidden=64) · shape=(4, 12, 128) · encoder.out · float32 cpu"
    )
    assert value_text(h_n) == (
        "(layer=2 direction=2) batch=4 hidden=64 · shape=(4, 4, 64) · encoder.h_n · float32 cpu"
    )
    assert value_text(rec) == "Recorder: 1 hooked, 1 called ('encoder')"
    assert value_text(rec["encoder"]) == (
        "encoder: LSTM, 2 layers, bidirectional, batch_first=True"
        " · out batch=4 token=12 (direction=2 hidden=64)"
    )


@pytest.mark.parametrize(
    "obj",
    [
        torch.zeros(3, 4),
        torch.nn.Parameter(torch.zeros(2)),
        PackedSequence(torch.zeros(3, 2), torch.tensor([2, 1])),
        "text",
        None,
        3,
    ],
    ids=["tensor", "parameter", "packed", "str", "None", "int"],
)
def test_anything_else_keeps_the_default_presentation(obj: Any) -> None:
    assert value_text(obj) is None
    assert children(obj) is None


def test_outputs_of_an_unhooked_layer_are_not_ours(make_config: Any, run: Any) -> None:
    unhooked = run(make_config(layers=2, bidirectional=True), hooked=False)
    for obj in [unhooked.out, unhooked.h_n]:
        assert value_text(obj) is None
        assert children(obj) is None


def test_packed_data_shows_a_row_per_valid_token(make_config: Any, run: Any) -> None:
    packed = run(make_config(form="packed_unsorted", bidirectional=True))
    rows = int(packed.out.batch_sizes.sum())
    text = value_text(packed.out.data)
    assert text is not None
    assert text.startswith(f"packed={rows} (direction=2 hidden=")


# -- children --------------------------------------------------------------------------------
def test_children_over_the_matrix(layout_config: Any, run: Any) -> None:
    case = run(layout_config)
    check_evaluate_names(case)
    check_out_split(case)
    check_h_n_rows(case)


def check_evaluate_names(case: Any) -> None:
    """Each child's evaluateName gives it back: views share storage, dims are the sizes."""
    for name, obj in tensors_of(case).items():
        if isinstance(obj, PackedSequence):
            continue
        found = children(obj)
        assert found is not None
        assert found.rest is obj
        annotated = bh.annotation_of(obj)
        assert annotated is not None
        for child, value, expr in found.items:
            assert expr is not None or child == "pattern", child
            if expr is None:
                assert value == annotated.pattern
                continue
            got = evaluate("t", expr, {"t": obj, "torch": torch})
            shown = real(value)
            if isinstance(shown, torch.Tensor):
                assert torch.equal(got, shown), (name, child)
                assert value_text(value) is not None
                if not isinstance(value, Deferred):  # a view of the same memory
                    assert shown.untyped_storage().data_ptr() == obj.untyped_storage().data_ptr()
            else:
                assert got == shown == annotated.sizes[child], (name, child)


def check_out_split(case: Any) -> None:
    layout_config = case.cfg
    record = case.record
    out = record.out.tensor if isinstance(case.out, PackedSequence) else case.out
    found = children(out)
    assert found is not None
    names = [name for name, _, _ in found.items]
    dims = list(record.out.dims)
    if layout_config.bidirectional:
        forward, backward = record.out.split_directions()
        assert names == ["forward", "backward", *dims, "pattern"]
        for (name, view, expr), split in zip(found.items, (forward, backward), strict=False):
            assert torch.equal(view, split.tensor)
            if out.is_inference():  # its views keep no _base: tagged with their own names
                assert f"out.{name} · " in str(value_text(view))
                continue
            # named as the same expression typed in a watch pane is
            assert value_text(view) == value_text(evaluate("t", expr, {"t": out}))
            assert value_text(view) == bh.describe(split.tensor)
            assert f": {name} · " in str(value_text(view))
            assert str(value_text(view)).endswith(f" · {name} direction only")
    else:
        assert names == [*dims, "pattern"]


def check_h_n_rows(case: Any) -> None:
    cfg = case.cfg
    found = children(case.h_n)
    assert found is not None
    rows = [name for name, _, _ in found.items][: cfg.layers * cfg.directions + 1]
    if cfg.bidirectional:
        expected = [f"layer {i} {d}" for i in range(cfg.layers) for d in ("forward", "backward")]
    else:
        expected = [f"layer {i}" for i in range(cfg.layers)]
    assert rows == [*expected, "final"]
    for row, (_, view, _) in enumerate(found.items[: len(expected)]):
        assert torch.equal(view, case.h_n[row])
    final = real(found.items[len(expected)][1])
    assert torch.equal(final, case.record.final())
    assert value_text(final) is not None
    assert "(direction=" in value_text(final)  # type: ignore[operator]


def test_a_packed_output_shows_lengths_and_its_padded_form(
    layout_matrix: list[Any], run: Any
) -> None:
    for cfg in layout_matrix:
        if cfg.packed:
            check_packed(run(cfg))


def check_packed(case: Any) -> None:
    found = children(case.out)
    assert found is not None
    assert found.rest is case.out
    (_, lengths, lengths_expr), (name, padded, padded_expr) = found.items
    assert lengths.tolist() == list(case.cfg.lengths)
    assert evaluate("p", lengths_expr, {"p": case.out}).tolist() == lengths.tolist()
    assert name == "padded"
    assert isinstance(padded, Deferred)
    assert padded.text.endswith(" · padded copy, made when expanded")
    assert torch.equal(padded.get(), case.record.out.tensor)
    # the padded copy knows its lengths, in batch order
    shown = ", ".join(map(str, case.cfg.lengths))
    assert value_text(padded.get()) == f"{line(case.record.out)} · lengths [{shown}]"
    assert torch.equal(evaluate("p", padded_expr, {"p": case.out}), padded.get())
    expanded = children(padded)
    assert expanded is not None
    assert expanded.rest is padded.get()


def test_record_recorder_and_annotated_tensor(make_config: Any, run: Any) -> None:
    case = run(make_config(layers=2, bidirectional=True, form="packed_unsorted"))
    record = case.record
    found = children(record)
    assert found == Children(found.items, None)  # complete: no attribute is read blindly
    names = [name for name, _, _ in found.items]
    assert names == [
        "name", "kind", "out", "h_n", "c_n", "input", "lengths", "final", "layers", "module",
        "layout",
    ]  # fmt: skip
    values = {name: value for name, value, _ in found.items}
    assert isinstance(values["out"], Deferred)  # a packed call: not padded by looking
    assert "out" not in record.__dict__
    assert bh.describe(values["out"].get()) == bh.describe(record.out)
    assert torch.equal(real(values["final"]), record.final())
    for name, value, expr in found.items:
        if isinstance(expr, str):
            got, shown = evaluate("r", expr, {"r": record}), real(value)
            if isinstance(got, bh.AnnotatedTensor):
                assert torch.equal(got.tensor, shown.tensor)
            elif name == "layers":  # a replay each time it is evaluated: equal values
                assert torch.equal(got.out.tensor, shown.out.tensor)
            elif isinstance(got, torch.Tensor):
                assert torch.equal(got, shown)
            else:
                assert got == shown, name

    recorder = children(case.rec)
    assert recorder is not None
    assert recorder.rest is case.rec
    ((_, latest, expr),) = recorder.items
    assert latest is record
    assert evaluate("rec", expr, {"rec": case.rec}) is record

    annotated = children(record.h_n)
    assert annotated is not None
    assert annotated.rest is record.h_n
    assert [name for name, _, _ in annotated.items][:5] == [
        "layer 0 forward", "layer 0 backward", "layer 1 forward", "layer 1 backward", "final"
    ]  # fmt: skip
    for _, value, expr in annotated.items:
        got = evaluate("a", expr, {"a": record.h_n})
        assert torch.equal(got, real(value)) if isinstance(got, torch.Tensor) else got == value


def test_a_recorder_shows_modules_not_called_yet_and_cleared() -> None:
    model = torch.nn.ModuleDict({"a": torch.nn.GRU(3, 4), "b": torch.nn.RNN(3, 4)})
    rec = bh.attach_hooks(model)
    model["a"](torch.randn(5, 3))
    found = children(rec)
    assert found is not None
    shown = {name: value for name, value, _ in found.items}
    assert isinstance(shown["'a'"], bh.Record)
    assert shown["'b'"] == "(not called yet)"
    rec.clear()
    found = children(rec)
    assert found is not None
    assert found.items[0][1] == "(cleared)"


# -- metadata only ----------------------------------------------------------------------------
def test_values_are_describe_and_only_views_are_made(layout_config: Any, run: Any) -> None:
    """No tensor data is read: the only ops on the tensors' memory make views."""
    case = run(layout_config)
    objs = [*tensors_of(case).values(), case.record, case.rec]
    watched = [case.h_n, case.out.data if isinstance(case.out, PackedSequence) else case.out]
    with _Ops(watched) as ops:
        for obj in objs:
            assert value_text(obj) == line(obj)
            found = children(obj)
            assert found is not None
            for _, value, _ in found.items:
                value_text(value)
    assert not ops.touched
    assert value_text(case.record.h_n) == line(case.record.h_n)


def test_order_on_another_device_is_not_read() -> None:
    """Lengths in batch order need `unsorted_indices`: on a GPU, reading it would sync."""
    lstm = torch.nn.LSTM(3, 4, bidirectional=True)
    bh.attach_hooks(lstm)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.randn(5, 3, 3), torch.tensor([2, 5, 4]), enforce_sorted=False
    )
    out, _ = lstm(packed)
    elsewhere = PackedSequence(  # the same data, its order on a device nothing can read
        out.data, out.batch_sizes, out.sorted_indices.to("meta"), out.unsorted_indices.to("meta")
    )
    assert bh.describe(elsewhere).endswith("· packed, lengths [5, 4, 2] (longest first)")
    assert bh.describe(out).endswith("· packed, lengths [2, 5, 4]")
    found = children(elsewhere)
    assert found is not None
    assert found.items[0][0] == "lengths (longest first)"
    assert found.items[0][2] is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_showing_cuda_tensors_never_syncs_the_device() -> None:
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).cuda()
    rec = bh.attach_hooks(lstm)
    x = torch.randn(3, 5, 3, device="cuda")
    out, (h_n, c_n) = lstm(x)
    packed_in = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.tensor([2, 5, 4]), batch_first=True, enforce_sorted=False
    )
    packed_out, _ = lstm(packed_in)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call raises
    try:
        for obj in (out, h_n, c_n, packed_out, rec, rec[lstm]):
            assert value_text(obj) is not None
            found = children(obj)
            assert found is not None
            for _, value, _ in found.items:
                value_text(value)
        assert str(value_text(packed_out)).endswith("lengths [5, 4, 2] (longest first)")
        repr(rec)  # listed among the recorder's usual attributes, with the records'
        assert repr(rec[lstm]).endswith("lengths [5, 4, 2] (longest first)")
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_views_are_named_when_read_and_copies_weakly_remembered() -> None:
    lstm = torch.nn.LSTM(3, 4, num_layers=3, bidirectional=True)
    bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(5, 2, 3))
    before = _registry.size()
    found = children(h_n)
    assert found is not None
    assert _registry.size() == before  # the six rows: views, named when read
    final = {name: value for name, value, _ in found.items}["final"]
    assert isinstance(final, Deferred)
    final.get()  # a copy: tagged with its own names
    assert _registry.size() == before + 1
    del found, final
    assert _registry.size() == before


def test_views_of_inference_tensors_are_tagged_weakly() -> None:
    """Their views keep no `_base`: tagged, so that no storage scan is needed to name them."""
    lstm = torch.nn.LSTM(3, 4, num_layers=3, bidirectional=True)
    bh.attach_hooks(lstm)
    with torch.inference_mode():
        _, (h_n, _) = lstm(torch.randn(5, 2, 3))
    gc.collect()  # earlier tests' recorders, in reference cycles: not swept meanwhile
    before = _registry.size()
    found = children(h_n)
    assert found is not None
    assert _registry.size() == before + 6
    assert value_text(found.items[5][1]) == (
        "batch=2 hidden=4 · <LSTM>.h_n[layer 2 backward] · float32 cpu"
    )
    del found
    assert _registry.size() == before


# -- the pydevd plugin -------------------------------------------------------------------------
@pytest.fixture
def pydevd_resolver() -> Any:
    return pytest.importorskip("_pydevd_bundle.pydevd_resolver")  # the dev extra has pydevd


@pytest.fixture
def plugin(pydevd_resolver: Any) -> Any:
    return importlib.import_module(PLUGIN_MODULE)


@pytest.fixture
def seed_outputs() -> tuple[torch.Tensor, torch.Tensor, PackedSequence]:
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(2, 6, 3))
    packed_in = torch.nn.utils.rnn.pack_padded_sequence(
        torch.randn(2, 6, 3), torch.tensor([4, 6]), batch_first=True, enforce_sorted=False
    )
    packed_out, _ = lstm(packed_in)
    return out, h_n, packed_out


def test_plugin_imports_neither_torch_nor_the_library() -> None:
    code = (
        f"import sys, {PLUGIN_MODULE} as p; "
        "print(sorted(m for m in ('torch', 'bilstm_hooks') if m in sys.modules), p.__all__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[] ['BilstmHooksStrProvider', 'BilstmHooksTypeResolver']"


def test_plugin_names_one_entry_point_of_the_library() -> None:
    """The plugin knows the package by its name and by one module, that of `plugin_entry`:
    no table of private paths to keep in step with the package's layout."""
    source = (ROOT / Path(*PLUGIN_MODULE.split("."))).with_suffix(".py").read_text()
    tree = ast.parse(source)
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"bilstm_hooks(\.\w+)*\.?", node.value)
    }
    assert named == {"bilstm_hooks", "bilstm_hooks.", "bilstm_hooks._display.debugger"}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert "plugin_entry" in attributes
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not [line for line in imports if "bilstm_hooks" in line], imports


def test_plugin_entry_is_the_contract() -> None:
    entry = _debugger.plugin_entry()
    assert isinstance(entry, _debugger.PluginEntry)
    assert entry._fields == ("claims", "value_text", "children")
    assert entry.value_text is value_text
    assert entry.children is children
    for ours in (bh.AnnotatedTensor, bh.Record, bh.Recorder, bh.Unrolled, Deferred):
        assert entry.claims(ours), ours
    others = [getattr(bh, name) for name in bh.__all__ if isinstance(getattr(bh, name), type)]
    others = [kind for kind in others if kind not in _debugger._CLAIMED]
    assert {kind.__name__ for kind in others} >= {"Axes", "Summary", "LayoutError"}
    # the plugin claims torch's types itself: they exist before the library is imported
    for kind in (*others, torch.Tensor, torch.nn.Parameter, PackedSequence, tuple, str):
        assert not entry.claims(kind), kind


def test_plugin_asks_the_library_about_its_own_types_only() -> None:
    """Any other type is answered without importing the entry point's module."""
    code = (
        f"import sys, {PLUGIN_MODULE} as p, bilstm_hooks as bh\n"
        "class Mine: pass\n"
        "r = p.BilstmHooksTypeResolver()\n"
        "print([r.can_provide(t, t.__name__) for t in (int, dict, Mine)],"
        " 'bilstm_hooks._display.debugger' in sys.modules)\n"
        "print([r.can_provide(t, t.__name__) for t in (bh.Record, bh.Axes, bh.Summary)],"
        " 'bilstm_hooks._display.debugger' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:2] == [
        "[False, False, False] False",
        "[True, False, False] True",
    ]


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydevd's default resolver reads x.T
def test_plugin_adapts_the_library(plugin: Any, pydevd_resolver: Any, seed_outputs: Any) -> None:
    out, h_n, packed_out = seed_outputs
    text, resolver = plugin.BilstmHooksStrProvider(), plugin.BilstmHooksTypeResolver()
    for obj in (out, h_n, packed_out):
        assert text.can_provide(type(obj), type(obj).__name__)
        assert resolver.can_provide(type(obj), type(obj).__name__)
        assert text.get_str(obj) == line(obj)
        assert text.get_str(obj, True) == line(obj)  # pydevd-pycharm's call
        assert text.get_str_in_context(obj, "hover") == line(obj)
        assert text.get_str_in_context(obj, "clipboard") is None  # "Copy Value": the repr
    for ours in (Deferred, bh.AnnotatedTensor, bh.Record, bh.Recorder):  # wherever they live
        assert text.can_provide(ours, ours.__name__)
        assert resolver.can_provide(ours, ours.__name__)
    assert not resolver.can_provide(str, "str")
    contents = resolver.get_contents_debug_adapter_protocol(out)
    names = [name for name, _, _ in contents]
    default = [
        n for n, _, _ in pydevd_resolver.defaultResolver.get_contents_debug_adapter_protocol(out)
    ]
    assert names[:7] == ["forward", "backward", "batch", "token", "direction", "hidden", "pattern"]
    assert names[7:] == default  # then the tensor's usual attributes, as pydevd lists them
    dictionary = resolver.get_dictionary(h_n)
    assert list(dictionary)[:5] == [
        "layer 0 forward", "layer 0 backward", "layer 1 forward", "layer 1 backward", "final"
    ]  # fmt: skip
    assert torch.equal(resolver.resolve(h_n, "layer 1 backward"), dictionary["layer 1 backward"])
    assert resolver.resolve(h_n, "shape") == h_n.shape
    assert resolver.resolve(packed_out, "batch_sizes") is packed_out.batch_sizes


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_plugin_gives_the_default_for_what_is_not_ours(plugin: Any, pydevd_resolver: Any) -> None:
    text, resolver = plugin.BilstmHooksStrProvider(), plugin.BilstmHooksTypeResolver()
    plain = torch.zeros(3, 4)
    packed = PackedSequence(torch.zeros(3, 2), torch.tensor([2, 1]))
    assert text.get_str(plain) is None
    assert text.get_str(packed) is None
    for obj, default in (
        (plain, pydevd_resolver.defaultResolver),
        (packed, pydevd_resolver.tupleResolver),
    ):
        ours = resolver.get_contents_debug_adapter_protocol(obj)
        theirs = default.get_contents_debug_adapter_protocol(obj)
        assert [(n, shown(e)) for n, _, e in ours] == [(n, shown(e)) for n, _, e in theirs]
    assert resolver.get_dictionary(plain).keys() == (
        pydevd_resolver.defaultResolver.get_dictionary(plain).keys()
    )


def test_plugin_is_inert_until_the_program_imports_the_library(
    plugin: Any, seed_outputs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = seed_outputs[0]
    monkeypatch.delitem(sys.modules, "bilstm_hooks")
    assert plugin.BilstmHooksStrProvider().get_str(out) is None
    # a type claimed before the import stays claimed: pydevd caches that answer
    assert plugin.BilstmHooksStrProvider().can_provide(torch.Tensor, "Tensor")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_plugin_never_raises(
    plugin: Any, pydevd_resolver: Any, seed_outputs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = seed_outputs[0]

    def broken(obj: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_debugger, "value_text", broken)
    monkeypatch.setattr(_debugger, "children", broken)
    text, resolver = plugin.BilstmHooksStrProvider(), plugin.BilstmHooksTypeResolver()
    assert text.get_str(out) is None  # the default presentation instead
    default = pydevd_resolver.defaultResolver.get_contents_debug_adapter_protocol(out)
    assert [n for n, _, _ in resolver.get_contents_debug_adapter_protocol(out)] == [
        n for n, _, _ in default
    ]
    assert resolver.resolve(out, "shape") == out.shape

    class Odd(type):
        @property
        def __module__(cls) -> str:  # type: ignore[override]
            raise RuntimeError("no module")

    assert not resolver.can_provide(Odd("X", (), {}), "X")


def test_plugin_gives_tuples_and_lists_a_value_line_only(plugin: Any, seed_outputs: Any) -> None:
    """pydevd asks per type: tuple and list are claimed for the value line alone, which is
    None (pydevd's own) unless one of their first items is annotated."""
    out, h_n, _ = seed_outputs
    text, resolver = plugin.BilstmHooksStrProvider(), plugin.BilstmHooksTypeResolver()
    for kind in (tuple, list):
        assert text.can_provide(kind, kind.__name__)
        assert not resolver.can_provide(kind, kind.__name__)  # items listed by pydevd
        ours = kind([out, h_n])
        assert text.get_str(ours) == bh.describe(ours) == value_text(ours)
        assert text.get_str_in_context(ours, "clipboard") is None
        assert text.get_str(kind([torch.zeros(2), 3])) is None
    assert not text.can_provide(torch.return_types.max, "max")  # a tuple subclass: not asked


class _Counting(torch.Tensor):
    """A user's own tensor subclass that counts the torch functions it sees."""

    calls: list[Any] = []  # noqa: RUF012

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        cls.calls.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


def test_plugin_declines_a_users_tensor_subclass_without_touching_it(
    plugin: Any, seed_outputs: Any
) -> None:
    """Its __torch_function__ ran 8 times for the value line before the plugin declined it;
    now only its type is looked at, and pydevd keeps its own presentation of it."""
    out, h_n, _ = seed_outputs
    mine = torch.zeros(2, 3).as_subclass(_Counting)
    _Counting.calls.clear()
    text, resolver = plugin.BilstmHooksStrProvider(), plugin.BilstmHooksTypeResolver()
    assert not text.can_provide(_Counting, "_Counting")
    assert not resolver.can_provide(_Counting, "_Counting")
    assert text.get_str(mine) is None
    assert text.get_str_in_context(mine, "variables") is None
    assert plugin._ours("children", mine) is None
    assert value_text(mine) is None
    assert children(mine) is None
    held = (h_n, mine)  # a tuple holding one: the subclass by its type's name only
    assert (
        text.get_str(held)
        == value_text(held)
        == ("((layer=2 direction=2) batch=2 hidden=4 · encoder.h_n, <_Counting>) · float32 cpu")
    )
    assert text.get_str([mine, mine]) is None
    assert _Counting.calls == []
    # plain tensors and Parameters stay ours (a Parameter made of h_n shares its names)
    for kind in (torch.Tensor, torch.nn.Parameter):
        assert text.can_provide(kind, kind.__name__)
        assert resolver.can_provide(kind, kind.__name__)
    assert text.get_str(out) == value_text(out) is not None
    parameter = torch.nn.Parameter(h_n)
    assert text.get_str(parameter) == value_text(parameter) == line(h_n)
    assert plugin._ours("children", parameter) is not None
