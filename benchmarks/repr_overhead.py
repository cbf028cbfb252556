"""What `bh.patch_repr()` adds to the repr of a tensor no hooked layer made. A report, not a test.

The issue's bound: at most 2 µs more than torch's own repr. Measured two ways, in one
process, against torch's repr of the same tensor, with 20 calls of a hooked layer alive
(the registry is not empty, as in a real session):

- alternating blocks: 3,000 reprs patched, 3,000 unpatched, 11 times; the median and the
  spread of the differences;
- alternating single calls: one repr each way, 30,000 times; the difference of the medians.

A bare wrapper (a function that only calls torch's repr) is measured by blocks too: it is
the floor any patch of `Tensor.__repr__` pays, between two reprs with cold caches.

    python benchmarks/repr_overhead.py
"""

from __future__ import annotations

import statistics
import time
import timeit

import torch

import bilstm_hooks as bh

BLOCK, ROUNDS, SINGLES = 3000, 21, 30000


def main() -> None:
    torch.set_num_threads(1)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    rec = bh.attach_hooks(lstm)
    alive = [lstm(torch.randn(2, 5, 3)) for _ in range(20)]
    x = torch.zeros(3)
    torchs = torch.Tensor.__repr__
    bh.patch_repr()
    ours = torch.Tensor.__repr__
    assert ours is not torchs
    assert ours(x) == torchs(x)  # not annotated: torch's text, exactly

    def block(f: object) -> float:
        return min(timeit.repeat("f(x)", number=BLOCK, repeat=3, globals={"f": f, "x": x}))

    def bare(self: torch.Tensor, *args: object, **kwargs: object) -> str:
        return torchs(self, *args, **kwargs)

    extra = [(block(ours) - block(torchs)) / BLOCK * 1e6 for _ in range(ROUNDS)]
    floor = [(block(bare) - block(torchs)) / BLOCK * 1e6 for _ in range(ROUNDS)]
    plain, patched = [], []
    clock = time.perf_counter_ns
    for _ in range(SINGLES):
        start = clock()
        torchs(x)
        middle = clock()
        ours(x)
        plain.append(middle - start)
        patched.append(clock() - middle)
    single = (statistics.median(patched) - statistics.median(plain)) / 1000
    print(f"torch's repr of torch.zeros(3): {statistics.median(plain) / 1000:.1f} µs")
    print(
        f"blocks: +{statistics.median(extra):.2f} µs median "
        f"(spread {min(extra):.2f} to {max(extra):.2f}) over {ROUNDS} rounds of {BLOCK}"
    )
    print(f"a bare wrapper, blocks: +{statistics.median(floor):.2f} µs median")
    print(f"single calls, alternating: +{single:.2f} µs (difference of the medians)")
    bh.unpatch_repr()
    rec.remove()
    del alive


if __name__ == "__main__":
    main()
