"""The hooks' cost in instructions: a steadier companion to overhead.py. A report, not a test.

Wall-clock ratios on a shared 2-core machine move by several percent from run to run.
valgrind's callgrind counts the instructions a process executes, which machine load does
not change. Each variant (bare or hooked, no_grad or grad) runs the seed's tiny model N1
and N2 times in two processes under callgrind; the difference over N2 - N1 calls is the
cost of one forward call, start-up excluded. A third variant hooks the model with a forward
hook that does nothing: the floor any forward hook pays, against which the library's own
work is read (`extra over no-op`). One thread (torch's, and the OpenBLAS pool that
numpy starts when torchinfo imports it), so that no thread pool spins, a
fixed hash seed, and the garbage collector off during the measured calls: when it
happens to run moved a variant's count by about 10k instructions (0.5%) from run to
run, more than the differences this is for. Its cost is in overhead.py's blocks.

    python benchmarks/instructions.py      # needs valgrind; about 12 minutes on 2 cores
"""

from __future__ import annotations

import concurrent.futures
import gc
import os
import re
import shutil
import subprocess
import sys
import time

N1, N2 = 100, 600
WARMUP = 20


VARIANTS = ("bare", "no-op", "hooked")


def worker(calls: int, variant: str, grad: bool) -> None:
    import torch
    from torch import nn

    import bilstm_hooks as bh

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(1, 6, 3)
    if variant == "hooked":
        bh.attach_hooks(model)
    elif variant == "no-op":
        model.register_forward_hook(lambda module, args, out: None)
    with torch.set_grad_enabled(grad):
        for _ in range(WARMUP):
            model(x)
        gc.collect()
        gc.disable()
        for _ in range(calls):
            model(x)


def count(calls: int, variant: str, grad: bool) -> int:
    """Instructions executed by one worker process, under callgrind."""
    argv = [sys.executable, __file__, "--worker", str(calls), variant, str(int(grad))]
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "PYTHONHASHSEED": "0",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        },
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing measured (apt install valgrind)")
        return 0
    started = time.perf_counter()
    variants = [(variant, grad) for grad in (False, True) for variant in VARIANTS]
    jobs = {(v, n): (n, *v) for v in variants for n in (N1, N2)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(count, *args) for key, args in jobs.items()}
        totals = {key: future.result() for key, future in futures.items()}
    per_call = {v: (totals[v, N2] - totals[v, N1]) / (N2 - N1) for v in variants}
    print("instructions per forward call of LSTM(3, 4, layers=2, bidirectional) on (1, 6, 3)")
    print(f"(callgrind, 1 thread, {N2 - N1} calls)\n")
    print(
        f"{'mode':<8} {'bare':>11} {'no-op':>11} {'hooked':>11} {'extra':>9} "
        f"{'over no-op':>10} {'of bare':>8}"
    )
    for grad in (False, True):
        bare, noop, hooked = (per_call[v, grad] for v in VARIANTS)
        print(
            f"{'grad' if grad else 'no_grad':<8} {bare:>11,.0f} {noop:>11,.0f} {hooked:>11,.0f} "
            f"{hooked - bare:>+9,.0f} {hooked - noop:>+10,.0f} {(hooked - noop) / bare:>8.2%}"
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1")
        sys.exit(0)
    sys.exit(main())
