"""How much do bilstm_hooks' hooks cost? A report, not a test: it always exits 0.

Time: the forward pass of a bare and a hooked nn.LSTM, measured in alternating
blocks on the same module (hooks attached before a hooked block, removed after
it; the order flips every block), so that machine noise hits both alike. Each
block gives one hooked/bare ratio of medians; the report shows the median ratio
and a 95% confidence interval for it. A target is met (or missed) only when the
whole interval is below (or above) it; otherwise the noise hides the answer.

The tiny model sits near its target, so it is measured two more ways, as a training
loop runs it, hooked all along, against a bare copy of it: alternating single calls,
and alternating blocks compared by their mean call, which counts what a median call
leaves out (the registry's write of the pending tags every 64 calls, garbage
collections). Attaching hooks anew for each block would count their first calls too.

Memory: hooked training steps of the tiny model; kept records, live entries of
the weak registry and the process RSS at fixed steps (none should grow).

    python benchmarks/overhead.py            # about a minute on 2 cores
    python benchmarks/overhead.py --quick    # a few seconds, rougher numbers
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry

TARGETS = {"tiny": 1.05, "realistic": 1.01}


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], nn.LSTM]
    shape: tuple[int, int, int]
    blocks: int  # alternating bare/hooked blocks
    calls: int  # forward calls per block and variant
    warmup: int
    budget_s: float  # no new block once a mode has run this long (at least 3 blocks)


def cases(quick: bool) -> list[Case]:
    def tiny() -> nn.LSTM:
        return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)

    def realistic() -> nn.LSTM:
        return nn.LSTM(256, 512, num_layers=2, bidirectional=True, batch_first=True)

    return [
        Case("tiny", tiny, (1, 6, 3), blocks=40 if quick else 200, calls=20 if quick else 40,
             warmup=200, budget_s=4 if quick else 15),
        Case("realistic", realistic, (32, 128, 256), blocks=4 if quick else 12, calls=1,
             warmup=1, budget_s=6 if quick else 25),
    ]  # fmt: skip


def median_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The median and a distribution-free confidence interval for it: the order
    statistics whose ranks bound the median's with `confidence` (normal approximation
    of the binomial; wide, as it should be, for a few blocks)."""
    ordered = sorted(values)
    n = len(ordered)
    spread = statistics.NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(n)
    low = math.floor((n - spread) / 2)  # ranks counted from 1
    high = math.ceil(1 + (n + spread) / 2)
    return ordered[max(low, 1) - 1], statistics.median(ordered), ordered[min(high, n) - 1]


def verdict(low: float, median: float, high: float, target: float) -> str:
    """met or missed when the interval is on one side of the target, else unclear."""
    if high <= target:
        return "met"
    if low > target:
        return "missed"
    return "unclear"


def time_calls(model: nn.Module, x: torch.Tensor, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def hooked(model: nn.Module, on: bool) -> Iterator[None]:
    if not on:
        yield
        return
    with bh.attach_hooks(model):
        yield


@dataclass
class Result:
    case: Case
    grad: bool
    bare: list[float]
    hooked: list[float]
    ratios: list[float]
    blocks: int


def measure(case: Case, grad: bool) -> Result:
    torch.manual_seed(0)
    model = case.make()
    x = torch.randn(case.shape)
    bare: list[float] = []
    hooked_times: list[float] = []
    ratios = []
    with torch.set_grad_enabled(grad):
        for on in (False, True):  # warm-up both paths: allocator, oneDNN, hook code
            with hooked(model, on):
                time_calls(model, x, case.warmup)
        started = time.perf_counter()
        for block in range(case.blocks):
            if block >= 3 and time.perf_counter() - started > case.budget_s:
                break
            per_variant = {}
            for on in (False, True) if block % 2 == 0 else (True, False):
                with hooked(model, on):
                    per_variant[on] = time_calls(model, x, case.calls)
            bare += per_variant[False]
            hooked_times += per_variant[True]
            ratios.append(
                statistics.median(per_variant[True]) / statistics.median(per_variant[False])
            )
    return Result(case, grad, bare, hooked_times, ratios, len(ratios))


def steady_ratios(
    case: Case, grad: bool, rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Against a bare copy of the model, the hooked model (hooked all along) and a copy
    with a forward hook that does nothing (the floor any hook pays): for each, the
    ratios of alternating single calls and of alternating blocks' mean calls."""
    torch.manual_seed(0)
    model = case.make()
    bare, noop = copy.deepcopy(model), copy.deepcopy(model)
    noop.register_forward_hook(lambda module, args, out: None)
    x = torch.randn(case.shape)
    variants = {"hooked": model, "no-op hook": noop}
    singles: dict[str, list[float]] = {name: [] for name in variants}
    blocks: dict[str, list[float]] = {name: [] for name in variants}
    with torch.set_grad_enabled(grad), bh.attach_hooks(model):
        for m in (bare, noop, model):
            time_calls(m, x, case.warmup)
        for i in range(rounds):
            order = [bare, noop, model][i % 3 :] + [bare, noop, model][: i % 3]
            times = {id(m): time_calls(m, x, 1)[0] for m in order}
            for name, m in variants.items():
                singles[name].append(times[id(m)] / times[id(bare)])
        for i in range(max(3, rounds // case.calls)):
            order = [bare, noop, model][i % 3 :] + [bare, noop, model][: i % 3]
            means = {id(m): statistics.fmean(time_calls(m, x, case.calls)) for m in order}
            for name, m in variants.items():
                blocks[name].append(means[id(m)] / means[id(bare)])
    return {name: (singles[name], blocks[name]) for name in variants}


def fmt_time(seconds: float, *, signed: bool = False) -> str:
    sign = ("-" if seconds < 0 else "+") if signed else ""
    seconds = abs(seconds)
    if seconds >= 0.1:
        return f"{sign}{seconds * 1e3:.0f} ms"
    if seconds >= 1e-3:
        return f"{sign}{seconds * 1e3:.2f} ms"
    return f"{sign}{seconds * 1e6:.0f} µs"


def rss_mib() -> tuple[float, str]:
    """The current resident set size (Linux), else the peak one."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024, "RSS"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024), "peak RSS"


class TinyClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(x)
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))


def memory(steps: int, checkpoints: tuple[int, ...]) -> list[tuple[int, int, int, int, float, str]]:
    torch.manual_seed(0)
    model = TinyClassifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(1, 6, 3), torch.randn(1, 1)
    rows = []
    with bh.attach_hooks(model) as rec:
        for step in range(1, steps + 1):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            if step in checkpoints:
                kept = sum(len(rec.records(name)) for name in rec.names)
                stored = _registry.stored()  # dead entries awaiting a sweep included
                rows.append((step, kept, stored, _registry.size(), *rss_mib()))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a rough, fast run")
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    print(
        f"bilstm_hooks {bh.__version__} · torch {torch.__version__} · "
        f"python {platform.python_version()} · {platform.machine()} · "
        f"{torch.get_num_threads()} threads{' · --quick' if args.quick else ''}"
    )
    print(
        "hooked/bare: median of per-block ratios [95% confidence interval of the median]; "
        "best: ratio of the fastest calls"
    )
    print("target: met / missed when the whole interval is below / above it, else unclear")
    print("bare, hooked, extra: median time of one forward call\n")
    header = (
        f"{'model':<10} {'mode':<8} {'bare':>9} {'hooked':>9} {'extra':>9}  "
        f"{'hooked/bare [95% CI]':<23} {'best':>6} {'target':>6}        blocks×calls"
    )
    print(header)
    print("-" * len(header))
    extra: dict[str, list[float]] = {"tiny": [], "realistic": []}  # no_grad, grad
    realistic_bare = []
    for case in cases(args.quick):
        for grad in (False, True):
            r = measure(case, grad)
            bare, hook = statistics.median(r.bare), statistics.median(r.hooked)
            extra[case.name].append(hook - bare)
            if case.name == "realistic":
                realistic_bare.append(min(r.bare))
            low, median, high = median_ci(r.ratios)
            best = min(r.hooked) / min(r.bare)
            target = TARGETS[case.name]
            print(
                f"{case.name:<10} {'grad' if grad else 'no_grad':<8} {fmt_time(bare):>9} "
                f"{fmt_time(hook):>9} {fmt_time(hook - bare, signed=True):>9}  "
                f"{f'{median:.3f} [{low:.3f}, {high:.3f}]':<23} {best:>6.3f} "
                f"{f'≤{target:.2f}':>6} {verdict(low, median, high, target):<7} "
                f"{r.blocks:>4}×{case.calls}",
                flush=True,
            )
    # The hook does the same O(1) work whatever the layer's size (no tensor data is
    # copied), so tiny's extra time is its fixed cost; applied to the realistic model
    # it gives a ratio that machine noise cannot hide.
    print(
        "\nrealistic, from tiny's extra (the hook's fixed cost per call) and the fastest bare "
        "call:\na bound that the noise of a direct measurement cannot hide"
    )
    target = TARGETS["realistic"]
    for grad, bare in enumerate(realistic_bare):
        mode = "grad" if grad else "no_grad"
        fixed = max(extra["tiny"][grad], 0.0)
        ratio = 1 + fixed / bare
        print(
            f"  {mode:<8} 1 + {fmt_time(fixed)} / {fmt_time(bare)} = {ratio:.5f}  "
            f"≤{target:.2f} {'met' if ratio <= target else 'missed'}"
        )
    print(
        "\ntiny, hooked all along against a bare copy (its target sits near the noise),"
        "\nand a copy with a no-op forward hook (the floor any hook pays):"
    )
    target = TARGETS["tiny"]
    for grad in (False, True):
        found = steady_ratios(cases(args.quick)[0], grad, 1000 if args.quick else 8000)
        mode = "grad" if grad else "no_grad"
        for variant, (singles, blocks) in found.items():
            for harness, ratios in (("single calls", singles), ("blocks, mean call", blocks)):
                low, median, high = median_ci(ratios)
                print(
                    f"  {mode:<8} {variant:<11} {harness:<18} "
                    f"{f'{median:.3f} [{low:.3f}, {high:.3f}]':<23}"
                    + (f" ≤{target:.2f} {verdict(low, median, high, target)}"
                       if variant == "hooked" else "")
                )  # fmt: skip
    print("\nmodels: tiny = LSTM(3, 4, layers=2, bidirectional) on (1, 6, 3);")
    print("        realistic = LSTM(256, 512, layers=2, bidirectional) on (32, 128, 256)")

    steps, checkpoints = 2000, (100, 1000, 2000)
    print(f"\nmemory: {steps} hooked training steps of the tiny model (history=1)\n")
    print(
        f"{'step':>6} {'kept records':>13} {'registry entries':>17} {'of them live':>13} "
        f"{'RSS (MiB)':>10}"
    )
    for step, kept, stored, size, rss, label in memory(steps, checkpoints):
        note = "" if label == "RSS" else f"  ({label})"
        print(f"{step:>6} {kept:>13} {stored:>17} {size:>13} {rss:>10.1f}{note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
