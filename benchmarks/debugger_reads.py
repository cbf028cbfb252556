"""Issue 10's part of `debugger_overhead.py`: derived reads, tuples and lists, the storage scan.

Each report prints a table and returns nothing but what the caller's verdict needs;
`per_call_us` is the caller's timer (median over blocks, in microseconds).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils._python_dispatch import TorchDispatchMode

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry
from bilstm_hooks._core.lookup import annotation_of
from bilstm_hooks._display.debugger import children, value_text

Timer = Callable[..., float]


class _DataOps(TorchDispatchMode):
    """Counts the aten ops, other than views, on the memory of the watched tensors."""

    def __init__(self, watched: list[torch.Tensor]) -> None:
        super().__init__()
        self.storages = {t.untyped_storage().data_ptr() for t in watched}
        self.ops: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        flat = [*args, *(kwargs or {}).values()]
        if not func.is_view and any(
            isinstance(a, torch.Tensor) and a.untyped_storage().data_ptr() in self.storages
            for a in flat
        ):
            self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def held(batch: int, tokens: int, features: int, hidden: int, device: str) -> dict[str, Any]:
    """What a user holds one line after a bidirectional 2-layer LSTM, with follow on."""
    torch.manual_seed(0)
    lstm = nn.LSTM(features, hidden, num_layers=2, bidirectional=True, batch_first=True)
    lstm = lstm.to(device)
    bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(batch, tokens, features, device=device)
    lengths = torch.randint(1, tokens + 1, (batch,))
    lengths[0] = tokens
    packed_in = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad(), bh.follow(), warnings.catch_warnings():
        warnings.simplefilter("ignore", bh.LayoutWarning)
        out, (h_n, _) = lstm(x)
        packed, _ = lstm(packed_in)
        padded, _ = pad_packed_sequence(packed, batch_first=True)
        return {
            "out[:, -1]": out[:, -1],
            "h_n[-1]": h_n[-1],
            "out.transpose": out.transpose(0, 1),
            "h_n.permute": h_n.permute(1, 0, 2),
            "padded (copy)": padded,
            "padded[:, -1]": padded[:, -1],
            "cat(h_n[-2:])": torch.cat([h_n[-2], h_n[-1]], -1),
            "dropout(out)": F.dropout(out, 0.5),
            "cat[..., H:]": torch.cat([h_n[-2], h_n[-1]], -1)[..., hidden:],
            "out.detach()": out.detach(),  # named only through the storage scan
            "bad view": h_n.view(-1, 2 * hidden),  # unnamed, and says why
        }


def derived_report(
    batch: int, tokens: int, features: int, hidden: int, device: str, per_call_us: Timer
) -> float:
    """Times each derived read; returns the worst annotation_of + value + children."""
    objs = held(batch, tokens, features, hidden, device)
    numel = objs["padded (copy)"].numel()
    print(f"\nderived reads: batch={batch} token={tokens} hidden={hidden}, {device} "
          f"({numel / 1e6:.1f} M numbers in the padded output)")  # fmt: skip
    print(f"  {'object':<16}{'annotation':>11}{'value':>9}{'children':>10}{'data ops':>10}"
          "   (µs per call)")  # fmt: skip
    worst = 0.0
    watched = [t for t in objs.values() if isinstance(t, torch.Tensor)]
    sync = device == "cuda"
    for name, obj in objs.items():
        annotation_us = per_call_us(lambda obj=obj: annotation_of(obj))
        value_us = per_call_us(lambda obj=obj: value_text(obj))
        children_us = per_call_us(lambda obj=obj: children(obj))
        with _DataOps(watched) as ops:
            if sync:
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode("error")  # any synchronising call raises
            try:
                annotation_of(obj)
                value_text(obj)
                found = children(obj)
                for _, value, _ in found.items if found else ():
                    value_text(value)
            finally:
                if sync:
                    torch.cuda.set_sync_debug_mode("default")
        touched = ", ".join(sorted(set(ops.ops))) or "none"
        print(f"  {name:<16}{annotation_us:11.1f}{value_us:9.1f}{children_us:10.1f}"
              f"{touched:>10}")  # fmt: skip
        worst = max(worst, annotation_us + value_us + children_us)
    return worst


def sequence_report(timers: Any, per_call_us: Timer) -> None:
    """The plugin's value line for tuples and lists, ours or not, beside pydevd's own."""
    try:
        from _pydevd_bundle.pydevd_safe_repr import SafeRepr
    except ImportError:
        print("\n(pydevd is not installed: tuples and lists are skipped)")
        return
    import importlib

    plugin = importlib.import_module("pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks")
    text = plugin.BilstmHooksStrProvider()
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    bh.attach_hooks(lstm)
    out, (h_n, c_n) = lstm(torch.randn(5, 2, 3))
    unhooked = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    _, state = unhooked(torch.randn(5, 2, 3))
    cases: dict[str, object] = {
        "(1, 2.0, 'a')": (1, 2.0, "a"),
        "list(range(1000))": list(range(1000)),
        "8 plain tensors": tuple(torch.zeros(3) for _ in range(8)),
        "plain (h, c)": state,
        "[(h, c)] * 4 plain": [state] * 4,
        "ours: (h_n, c_n)": (h_n, c_n),
        "ours: (out, (h, c))": (out, (h_n, c_n)),
    }
    safe_repr = SafeRepr()
    print("\ntuples and lists: the plugin's value line, asked for every one shown")
    print(f"  {'object':<22}{'plugin':>9}{'pydevd own':>12}{'share':>8}   (µs per call)")
    for name, obj in cases.items():
        ours_us = per_call_us(lambda obj=obj: text.get_str_in_context(obj, "variables"))
        theirs_us = per_call_us(lambda obj=obj: safe_repr(obj), repeat=3)
        mine = text.get_str_in_context(obj, "variables")
        share = f"{100 * ours_us / (ours_us + theirs_us):6.1f}%" if mine is None else "  ours"
        print(f"  {name:<22}{ours_us:9.2f}{theirs_us:12.1f}{share:>8}")
    print("  share: of the whole value line, for those not ours (pydevd then makes its own)")


def scan_report(per_call_us: Timer, history: int) -> None:
    """`annotation_of` through the storage scan, with a large registry: warm, and rebuilt."""
    model = nn.ModuleDict({f"rnn{i}": nn.LSTM(3, 4, num_layers=2) for i in range(3)})
    rec = bh.attach_hooks(model, history=history)
    with torch.no_grad():
        for _ in range(history):
            for rnn in model.values():
                out, _ = rnn(torch.randn(5, 2, 3))
    for name in rec.names:  # the records' own tensors are tagged when read
        for record in rec.records(name):
            record.out  # noqa: B018
    detached, plain = out.detach(), torch.zeros(5, 2, 4)
    size = _registry.size()
    warm_detached = per_call_us(lambda: annotation_of(detached))
    warm_plain = per_call_us(lambda: value_text(plain))
    named = _registry.Named(bh.annotation_of(out).axes, "bench")  # type: ignore[union-attr]
    fresh: list[torch.Tensor] = []

    def after_a_change(read: Callable[[], object]) -> float:
        """One read just after one new tag: the index is rebuilt (tag cost subtracted)."""
        rounds = 30
        start = time.perf_counter()
        for _ in range(rounds):
            fresh.append(torch.zeros(1))
            _registry.tag(fresh[-1], named)
            read()
        both = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(rounds):
            fresh.append(torch.zeros(1))
            _registry.tag(fresh[-1], named)
        return (both - (time.perf_counter() - start)) / rounds * 1e6

    cold_detached = after_a_change(lambda: annotation_of(detached))
    cold_plain = after_a_change(lambda: value_text(plain))
    no_scan = per_call_us(lambda: annotation_of(plain, shared=False))
    print(f"\nthe storage scan: history={history} on 3 recurrent layers, "
          f"{size} live tensors in the registry")  # fmt: skip
    print(f"  {'read':<36}{'warm':>10}{'after a change':>16}   (µs per call)")
    print(f"  {'annotation_of(out.detach())':<36}{warm_detached:10.1f}{cold_detached:16.1f}")
    print(f"  {'value_text(plain tensor)':<36}{warm_plain:10.1f}{cold_plain:16.1f}")
    print(f"  {'annotation_of(plain, shared=False)':<36}{no_scan:10.1f}{'-':>16}")
    print("  after a change: the first tensor the scan is asked for after any tag (a forward,")
    print("  a followed op, a copy made by expanding `final`) rebuilds its index")
    rec.remove()
