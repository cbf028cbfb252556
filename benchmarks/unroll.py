"""What does Record.unroll() cost next to the fused forward? A report, not a test: exits 0.

Time: on the realistic model (input 256, hidden 512, 2 layers, bidirectional, batch
32 x 128 tokens, CPU, 2 threads), the fused forward (eval, no_grad), the replay and the
replay with gates, run in alternating blocks (the order rotates every block) so that
machine noise hits all three alike. Each block gives one replay/fused ratio; the report
shows their median and range. Target: the replay at most 3x the fused forward.

Memory: each variant once in a fresh process, after the model, the input and the
recorded call are made: the peak resident set (Linux's VmHWM, reset just before) above
the resident set before is what the variant itself needed at its peak, results included.

    python benchmarks/unroll.py            # about a minute on 2 cores
    python benchmarks/unroll.py --quick    # a few blocks, rougher numbers
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

import bilstm_hooks as bh

TARGET = 3.0
SHAPE = (32, 128, 256)  # batch, tokens, features


def setup() -> tuple[nn.LSTM, torch.Tensor, bh.Record]:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    lstm = nn.LSTM(256, 512, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(*SHAPE)
    with bh.attach_hooks(lstm) as rec, torch.no_grad():
        lstm(x)
    return lstm, x, rec[lstm]


def variants(lstm: nn.LSTM, x: torch.Tensor, record: bh.Record) -> dict[str, Callable[[], object]]:
    def fused() -> object:
        with torch.no_grad():
            return lstm(x)

    return {
        "fused": fused,
        "unroll": lambda: record.unroll(),
        "unroll+gates": lambda: record.unroll(gates=True),
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def peak_growth_mib(name: str) -> float:
    """Run one variant in this (fresh) process; return its peak RSS above the RSS before."""
    lstm, x, record = setup()
    run = variants(lstm, x, record)[name]
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # Linux: the peak RSS (VmHWM) restarts from the current RSS
    before = _status_kib("VmRSS")
    result = run()
    peak = _status_kib("VmHWM")
    del result
    return (peak - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.memory_of:
        print(f"{peak_growth_mib(args.memory_of):.1f}")
        return

    lstm, x, record = setup()
    run = variants(lstm, x, record)
    print(f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads")
    print(f"model: LSTM(256, 512, num_layers=2, bidirectional=True), input {SHAPE}")
    worst = record.unroll().check()
    print(f"check(): max |replay - fused| = {worst:.2g}")
    for fn in run.values():  # warm up
        fn()
    blocks = 3 if args.quick else 9
    times: dict[str, list[float]] = {name: [] for name in run}
    names = list(run)
    for block in range(blocks):
        order = names[block % 3 :] + names[: block % 3]
        for name in order:
            start = time.perf_counter()
            run[name]()
            times[name].append(time.perf_counter() - start)
    print(f"\ntime, {blocks} alternating blocks (median, min..max):")
    for name, values in times.items():
        print(f"  {name:<13} {statistics.median(values):6.3f} s  "
              f"({min(values):.3f}..{max(values):.3f})")  # fmt: skip
    for name in ("unroll", "unroll+gates"):
        ratios = [a / b for a, b in zip(times[name], times["fused"], strict=True)]
        median = statistics.median(ratios)
        verdict = (
            "met"
            if max(ratios) <= TARGET
            else "met by the median"
            if median <= TARGET
            else "missed"
        )
        print(f"  {name} / fused: median {median:.2f}x ({min(ratios):.2f}..{max(ratios):.2f}), "
              f"target <= {TARGET:g}x: {verdict}")  # fmt: skip

    print("\npeak memory growth, each variant in a fresh process:")
    for name in run:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-of", name],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        print(f"  {name:<13} {float(out.stdout.strip().splitlines()[-1]):7.1f} MiB")
    unrolled = record.unroll(gates=True)
    held = {
        "out": unrolled.out.tensor,
        "c": unrolled.c.tensor if unrolled.c is not None else None,
        "gates": unrolled.gates.tensor if unrolled.gates is not None else None,
    }
    sizes = ", ".join(
        f"{name} {t.numel() * t.element_size() / 2**20:.0f} MiB"
        for name, t in held.items()
        if t is not None
    )
    print(f"  held by an unroll: {sizes}")


if __name__ == "__main__":
    main()
