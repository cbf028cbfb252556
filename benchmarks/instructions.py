"""The hooks' cost in instructions: a steadier companion to overhead.py. A report, not a test.

Wall-clock ratios on a shared 2-core machine move by several percent from run to run.
valgrind's callgrind counts the instructions a process executes, which machine load does
not change. Each variant (bare or hooked, no_grad or grad) runs the seed's tiny model
under callgrind, and only the measured calls are counted: a two-function C library,
compiled here against valgrind's `callgrind.h` and called through ctypes, zeroes the
counts before the loop and dumps them after it (callgrind client requests), so neither
start-up nor the warm-up calls are in the figure. Address-space randomisation is off
(`setarch -R`): the registry's dicts hash tensors by address. Each variant runs
REPEATS times and the spread is printed. Without a C compiler or the header, the old
way: N1 and N2 calls in two processes, the difference over N2 - N1 calls (its run to
run spread was about 13k instructions a call). A third variant hooks the model with a forward
hook that does nothing: the floor any forward hook pays, against which the library's own
work is read (`extra over no-op`). One thread (torch's, and the OpenBLAS pool that
numpy starts when torchinfo imports it), so that no thread pool spins, a
fixed hash seed, and the garbage collector off during the measured calls: when it
happens to run moved a variant's count by about 10k instructions (0.5%) from run to
run, more than the differences this is for. Its cost is in overhead.py's blocks.

    python benchmarks/instructions.py      # needs valgrind; about 6 minutes on 2 cores
"""

from __future__ import annotations

import concurrent.futures
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N1, N2 = 100, 600
CALLS = 300  # measured calls a process, with the markers
REPEATS = 2
WARMUP = 20
HEADER = Path("/usr/include/valgrind/callgrind.h")
MARKERS_C = """
#include <valgrind/callgrind.h>
void bh_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_TOGGLE_COLLECT; }
void bh_stop(void) { CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


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
    markers = None
    if os.environ.get("BH_MARKERS"):
        import ctypes

        markers = ctypes.CDLL(os.environ["BH_MARKERS"])
    with torch.set_grad_enabled(grad):
        for _ in range(WARMUP):
            model(x)
        gc.collect()
        gc.disable()
        if markers is not None:
            markers.bh_start()
        for _ in range(calls):
            model(x)
        if markers is not None:
            markers.bh_stop()


def build_markers(folder: Path) -> Path | None:
    """The markers' shared library, or None without gcc or callgrind.h."""
    if shutil.which("gcc") is None or not HEADER.exists():
        return None
    source, library = folder / "markers.c", folder / "libmarkers.so"
    source.write_text(MARKERS_C)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def count_marked(calls: int, variant: str, grad: bool, markers: Path, folder: Path) -> int:
    """Instructions of the `calls` measured calls of one worker process, under callgrind."""
    argv = [sys.executable, __file__, "--worker", str(calls), variant, str(int(grad))]
    out = folder / f"cg.{variant}.{int(grad)}.{time.monotonic_ns()}"
    norandom = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []
    subprocess.run(
        [*norandom, "valgrind", "--tool=callgrind", "--collect-atstart=no",
         f"--callgrind-out-file={out}", *argv],
        capture_output=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
             "OMP_NUM_THREADS": "1", "BH_MARKERS": str(markers)},
    )  # fmt: skip
    for dump in folder.glob(f"{out.name}*"):
        text = dump.read_text(errors="replace")
        dump.unlink()
        if "Client Request: measured" in text:
            found = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if found is not None:
                return int(found.group(1))
    raise RuntimeError(f"no measured dump from callgrind for {variant}")


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
    with tempfile.TemporaryDirectory(prefix="bh-instructions-") as tmp:
        folder = Path(tmp)
        markers = build_markers(folder)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            if markers is not None:
                runs = {
                    (v, r): pool.submit(count_marked, CALLS, *v, markers, folder)
                    for v in variants
                    for r in range(REPEATS)
                }
                counts = {k: f.result() / CALLS for k, f in runs.items()}
                per_call = {v: min(counts[v, r] for r in range(REPEATS)) for v in variants}
                spread = max(
                    max(counts[v, r] for r in range(REPEATS)) - per_call[v] for v in variants
                )
                how = f"only the {CALLS} measured calls, min of {REPEATS} runs"
                how += f", largest spread {spread:,.0f} a call"
            else:
                jobs = {(v, n): (n, *v) for v in variants for n in (N1, N2)}
                futures = {key: pool.submit(count, *args) for key, args in jobs.items()}
                totals = {key: future.result() for key, future in futures.items()}
                per_call = {v: (totals[v, N2] - totals[v, N1]) / (N2 - N1) for v in variants}
                how = f"the difference of {N1} and {N2} calls"
    print("instructions per forward call of LSTM(3, 4, layers=2, bidirectional) on (1, 6, 3)")
    print(f"(callgrind, 1 thread, {how})\n")
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
