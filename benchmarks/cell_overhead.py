"""What hooking a cell costs per step, against what a hooked nn.LSTM call costs. A report.

The issue's bound: a hooked cell loop of 50 steps, against the same loop bare, adds per
step no more than a hooked `nn.LSTM` call adds (the seed's tiny LSTM: 2 layers,
bidirectional, 6 tokens). Both are measured in this one run, each hooked copy against a
bare twin with the same weights, two ways:

- alternating single runs (one bare, one hooked, many times): the difference of the
  medians;
- alternating blocks of runs: the difference of the mean runs, which also counts what a
  median leaves out (garbage collections, the registry's sweeps).

Two cells: a tiny one (`LSTMCell(3, 4)`, batch 1) and a realistic one (`LSTMCell(256,
512)`, batch 32), the realistic one also in a decoder that stacks its steps' `h`, as most
do. Each loop is one forward of a small decoder module, as a model runs it. Where the loop
keeps no step, the hook's keeping them is memory the bare loop never touches again (each
step's state is written to memory out of cache): that shows in the realistic loop alone.

    python benchmarks/cell_overhead.py            # about a minute on 2 cores
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import bilstm_hooks as bh

STEPS = 50


class Loop(nn.Module):
    """A decoder's loop: one cell stepped `STEPS` times, each step given the last state."""

    def __init__(self, features: int, hidden: int, keeps: bool = False) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(features, hidden)
        self.keeps = keeps  # the decoder keeps every step's h, as one that stacks them does

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        state, outputs = None, []
        for x in xs:
            state = self.cell(x, state)
            if self.keeps:
                outputs.append(state[0])
        assert state is not None
        return torch.stack(outputs, 1) if self.keeps else state[0]


def singles(bare: Callable[[], object], hooked: Callable[[], object], runs: int) -> float:
    """Median hooked run minus median bare run, in µs, the two alternating."""
    clock = time.perf_counter_ns
    plain, extra = [], []
    for _ in range(runs):
        start = clock()
        bare()
        middle = clock()
        hooked()
        plain.append(middle - start)
        extra.append(clock() - middle)
    return (statistics.median(extra) - statistics.median(plain)) / 1000


def blocks(bare: Callable[[], object], hooked: Callable[[], object], runs: int) -> float:
    """Median over blocks of (mean hooked run - mean bare run), in µs."""
    clock = time.perf_counter_ns
    differences = []
    for block in range(9):
        means = {}
        for name, run in (("bare", bare), ("hooked", hooked))[:: 1 if block % 2 else -1]:
            start = clock()
            for _ in range(runs):
                run()
            means[name] = (clock() - start) / runs
        differences.append((means["hooked"] - means["bare"]) / 1000)
    return statistics.median(differences)


def twins(make: Callable[[], nn.Module]) -> tuple[nn.Module, nn.Module, bh.Recorder]:
    bare = make()
    hooked = copy.deepcopy(bare)
    return bare, hooked, bh.attach_hooks(hooked)


def measure(
    make: Callable[[], nn.Module], x: torch.Tensor, runs: int
) -> tuple[float, float, float]:
    """(bare run in µs, extra by single runs, extra by blocks) for `make()` on `x`."""
    bare, hooked, rec = twins(make)
    with torch.no_grad():
        for _ in range(20):
            bare(x), hooked(x)
        clock = time.perf_counter_ns
        start = clock()
        for _ in range(runs):
            bare(x)
        alone = (clock() - start) / runs / 1000
        single = singles(lambda: bare(x), lambda: hooked(x), runs)
        block = blocks(lambda: bare(x), lambda: hooked(x), max(runs // 10, 5))
    rec.remove()
    return alone, single, block


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lstm = measure(
        lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
        torch.randn(1, 6, 3),
        2000,
    )
    print(f"hooked nn.LSTM call (tiny, no_grad): bare {lstm[0]:.1f} µs")
    print(f"  extra: +{lstm[1]:.2f} µs (single runs), +{lstm[2]:.2f} µs (blocks)\n")
    print(f"cell loops of {STEPS} steps (LSTMCell, no_grad):")
    cells = {
        "tiny": (3, 4, 1, 400, False),
        "realistic": (256, 512, 32, 60, False),
        "realistic, its steps stacked": (256, 512, 32, 60, True),
    }
    for name, (features, hidden, batch, runs, keeps) in cells.items():
        xs = torch.randn(STEPS, batch, features)
        alone, single, block = measure(
            lambda f=features, h=hidden, k=keeps: Loop(f, h, k), xs, runs
        )
        per_step = (single / STEPS, block / STEPS)
        print(
            f"  {name}: bare loop {alone:9.1f} µs; ratio {1 + single / alone:.3f} (single), "
            f"{1 + block / alone:.3f} (blocks)"
        )
        print(
            f"            per step {per_step[0]:+.2f} µs (single), {per_step[1]:+.2f} µs (blocks); "
            f"that over a hooked nn.LSTM call's extra: {per_step[0] / lstm[1]:.2f}, "
            f"{per_step[1] / lstm[2]:.2f}"
        )


if __name__ == "__main__":
    main()
