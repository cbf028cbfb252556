"""Keeping `torch.compile` out of the library: Dynamo skips its files.

Dynamo compiles every Python frame that runs inside a compiled call, the hooks'
too: it would trace the registry and the layout caches (warning about each
`lru_cache`, recompiling on each tensor id). Once `torch._dynamo` is imported
(torch.compile imports it; importing it ourselves would cost seconds), the
package's files go into Dynamo's skip list, so that they run eagerly, as the
recurrent layer itself does (Dynamo does not capture LSTM, GRU or RNN), and the
hooks record the call. `_follow.mode` stays traceable: a compiled forward then enters no
follow mode (`torch.compiler.is_compiling()` is True while tracing), instead of
breaking the graph at every op to run it eagerly.

>>> keep_out_of_dynamo() in (True, False)
True
"""

from __future__ import annotations

import contextlib
import pkgutil
import sys

__all__ = ["keep_out_of_dynamo"]

_TRACED = ("_follow.mode",)  # modules Dynamo may trace: they do nothing while compiling
_done = [False]


def keep_out_of_dynamo() -> bool:
    """Put the package's modules in Dynamo's skip list, once, if Dynamo is imported;
    whether they are there. Never raises (the list is Dynamo's own, not public API)."""
    if _done[0]:
        return True
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is None:
        return False
    with contextlib.suppress(Exception):
        from torch._dynamo import trace_rules

        root = __package__.split(".")[0]
        package = sys.modules[root]
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{root}."):
            if info.name.removeprefix(f"{root}.") not in _TRACED:
                trace_rules.add(info.name)
        _done[0] = True
    return _done[0]
