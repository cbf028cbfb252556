"""What does the debugger plugin cost per tensor shown? A report, not a test: it always exits 0.

A debugger asks for a variable's value line, and for its children when it is
expanded. For annotated tensors the plugin answers from metadata only, so the
cost should not grow with the tensor: the budget is 100 µs per tensor, value
and children together, whatever its size. Measured on a small and a large
bidirectional LSTM (13 M numbers in `out`), median of many calls:

- value: `value_text(obj)`, the line shown next to the name;
- children: `children(obj)`, the named views and dims (views made, nothing copied);
- + their values: children plus the value line of each child, as a debugger
  asks for them when the tensor is expanded;
- plugin: the same through the pydevd provider classes (when pydevd is
  installed), our part only: pydevd's listing of the tensor's usual attributes,
  which it shows with or without the plugin, is timed separately for reference;
- repr: what the debugger shows for a tensor without the plugin.

Then, for issue 10:

- derived reads: the views and followed copies a user holds one line after the layer
  (`out[:, -1]`, `h_n[-1]`, `out.transpose(0, 1)`, the padded output, the cat of
  directions, `out.detach()`...): `annotation_of`, the value line and the children, at
  both sizes (same budget), with the aten ops that touched their memory (a view only,
  never a read) and, on a GPU, under `torch.cuda.set_sync_debug_mode("error")`;
- tuples and lists: what the value line of a tuple or list that is not ours costs in
  the plugin (it is asked for every one shown), beside pydevd's own line for it;
- the storage scan's worst case: `annotation_of` of a tensor only the scan can name
  (`out.detach()`) and of a plain tensor, with a large registry (history=500 on three
  recurrent layers), warm and just after the registry changed (the scan's index is
  then rebuilt: what the first tensor shown at each pause pays).

    python benchmarks/debugger_overhead.py            # about a minute on 2 cores
    python benchmarks/debugger_overhead.py --quick    # a few seconds, smaller "large"
"""

from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from debugger_reads import derived_report, scan_report, sequence_report
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh
from bilstm_hooks._display.debugger import children, value_text

BUDGET_US = 100.0
ROOT = Path(__file__).resolve().parents[1]


def per_call_us(fn: Callable[[], object], *, repeat: int = 7, budget_s: float = 0.2) -> float:
    """Median over `repeat` blocks of the mean time of one call, in microseconds."""
    fn()
    calls = 1
    while True:  # calls per block: enough for ~budget_s / repeat
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > budget_s / repeat / 4:
            break
        calls *= 4
    blocks = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        blocks.append((time.perf_counter() - start) / calls)
    return statistics.median(blocks) * 1e6


def outputs(batch: int, tokens: int, features: int, hidden: int) -> dict[str, object]:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(features, hidden, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(torch.nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(batch, tokens, features)
    lengths = torch.randint(1, tokens + 1, (batch,))
    lengths[0] = tokens
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
        packed, _ = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    return {
        "out": out,
        "h_n": h_n,
        "c_n": c_n,
        "packed out": packed,
        "Record": rec["encoder"],
        "Recorder": rec,
        "plain tensor": out.clone(),  # not annotated: the plugin steps aside
    }


def plugin_timers() -> tuple[Callable[[object], object], Callable[[object], object]] | None:
    sys.path.insert(0, str(ROOT))  # the plugin beside the package, as an install has it
    try:
        plugin = importlib.import_module("pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks")
        from _pydevd_bundle import pydevd_resolver
    except ImportError:
        return None
    text = plugin.BilstmHooksStrProvider()

    def ours(obj: object) -> object:
        text.get_str_in_context(obj, "variables")
        found = plugin._ours("children", obj)
        return found

    def usual(obj: object) -> object:
        with warnings.catch_warnings():  # tensor.T on 3-D tensors warns
            warnings.simplefilter("ignore")
            return pydevd_resolver.defaultResolver.get_contents_debug_adapter_protocol(obj)

    return ours, usual


def report(label: str, objs: dict[str, object], timers: Any) -> list[float]:
    print(f"\n{label}")
    header = f"  {'object':<14}{'value':>9}{'children':>10}{'+ values':>10}{'plugin':>9}"
    print(header + f"{'attrs*':>10}{'repr':>10}   (µs per call)")
    worst = []
    for name, obj in objs.items():
        found = children(obj)

        def expanded(obj: object = obj) -> None:
            result = children(obj)
            for _, value, _ in result.items if result else ():
                value_text(value)

        value_us = per_call_us(lambda obj=obj: value_text(obj))
        children_us = per_call_us(lambda obj=obj: children(obj))
        expanded_us = per_call_us(expanded)
        cells = [f"{value_us:9.1f}", f"{children_us:10.1f}", f"{expanded_us:10.1f}"]
        if timers is not None:
            ours, usual = timers
            plugin_us = per_call_us(lambda obj=obj, ours=ours: ours(obj))
            rest = found.rest if found is not None else obj
            usual_us = (
                per_call_us(lambda rest=rest, usual=usual: usual(rest), repeat=3)
                if rest is not None
                else 0.0
            )
            cells += [f"{plugin_us:9.1f}", f"{usual_us:10.1f}"]
        else:
            cells += [f"{'-':>9}", f"{'-':>10}"]
        if isinstance(obj, torch.Tensor):
            cells.append(f"{per_call_us(lambda obj=obj: repr(obj), repeat=3):10.1f}")
        else:
            cells.append(f"{'':>10}")
        print(f"  {name:<14}" + "".join(cells))
        if found is not None:
            worst.append(value_us + children_us)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller 'large' model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"bilstm_hooks {bh.__version__}, torch {torch.__version__}, Python "
          f"{platform.python_version()}, {platform.machine()}")  # fmt: skip
    timers = plugin_timers()
    if timers is None:
        print("(pydevd is not installed: the plugin columns are skipped)")
    small = outputs(batch=4, tokens=12, features=3, hidden=64)
    large_args = (16, 50, 8, 128) if args.quick else (64, 200, 32, 512)
    large = outputs(*large_args)
    numel = large["out"].numel()  # type: ignore[union-attr]
    worst = report("small: batch=4 token=12 hidden=64, 2 layers, bidirectional", small, timers)
    worst += report(
        f"large: batch={large_args[0]} token={large_args[1]} hidden={large_args[3]}, 2 layers, "
        f"bidirectional ({numel / 1e6:.1f} M numbers in out)",
        large,
        timers,
    )
    print("\n  * attrs: pydevd's own listing of the usual attributes, shown with or without")
    print("    the plugin; for a tensor, most of it is getattr of ~90 properties.")
    verdict = "within" if max(worst) <= BUDGET_US else "OVER"
    print(f"\nvalue + children, worst annotated object: {max(worst):.1f} µs "
          f"({verdict} the {BUDGET_US:.0f} µs budget)")  # fmt: skip
    device = "cuda" if torch.cuda.is_available() else "cpu"
    derived_worst = max(
        derived_report(4, 12, 3, 64, device, per_call_us),
        derived_report(*large_args, device, per_call_us),
    )
    verdict = "within" if derived_worst <= BUDGET_US else "OVER"
    print(f"\nderived reads (annotation_of + value + children), worst: {derived_worst:.1f} µs "
          f"({verdict} the {BUDGET_US:.0f} µs budget)")  # fmt: skip
    sequence_report(timers, per_call_us)
    scan_report(per_call_us, history=100 if args.quick else 500)


if __name__ == "__main__":
    main()
