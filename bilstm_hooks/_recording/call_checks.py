"""Reading a recurrent call for the hook: its structure, shapes and who to name in messages.

The hook's slow paths, kept apart from its hot path in `hook.py`: a call it does not
record (`Skipped`), an output it cannot read, a new call shape, taking itself off a copy.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .._base.hook_dicts import FORWARD_HOOK_DICTS
from .._base.versions import weight_versions
from .._names.layout import Layout, quoted_label_of
from .._names.named import CachedLayout, Tag

__all__ = [
    "HookCounts",
    "Skipped",
    "cached_layout",
    "expected",
    "is_fake",
    "state_without_graph",
    "structure",
    "take_off",
    "unusual",
    "weights_state",
    "weights_used_since",
    "who",
    "why_none",
    "without_graph",
    "wrong_shapes",
]

_is_tracing = torch._C._is_tracing


class Skipped(Exception):
    """A call that is not recorded on purpose: traced, or on fake tensors."""


def unusual(module: nn.Module, output: Any) -> None:
    """Raise `Skipped` for a traced or fake call, or ValueError for an output not
    shaped `(out, h_n)` / `(out, (h_n, c_n))`; return for anything else."""
    if _is_tracing():
        raise Skipped
    if type(output) is tuple and len(output) == 2:
        state = output[1]
        h_n = state[0] if type(state) is tuple and state else state
        if isinstance(h_n, torch.Tensor):
            if is_fake(h_n):
                raise Skipped
            return  # a tensor subclass: recorded as a tensor
    raise ValueError(f"{expected(module)}; got {structure(output)}")


def take_off(owner: object, module: nn.Module) -> None:
    """Remove from `module` the forward hooks that are bound methods of `owner`."""
    with contextlib.suppress(Exception):  # torch iterates over a snapshot of the hooks
        hooks, *marks = (module.__dict__[name] for name in FORWARD_HOOK_DICTS)
        for hook_id, hook in list(hooks.items()):
            if getattr(hook, "__self__", None) is owner:
                del hooks[hook_id]
                for mark in marks:
                    mark.pop(hook_id, None)


def cached_layout(
    name: str,
    origin: str,
    module: nn.Module,
    layout: Layout,
    out: torch.Tensor,
    h_n: torch.Tensor,
    c_n: torch.Tensor | None,
) -> tuple[CachedLayout, str]:
    """What a new call shape (of `layout`) gives every call of it, its tensors labelled
    `origin.out` and so on, and the warning (or `""`) for outputs not laid out as the
    layer's settings say."""
    wrong = wrong_shapes(layout, out, h_n, c_n)
    warning = ""
    if wrong:
        warning = (
            f"bilstm_hooks recorded a call of {who(name, module)} whose outputs are "
            f"not laid out as they should be: {expected(module)}: {wrong}. "
            "Its annotations cannot be read; rec[...].check() says what differs."
        )
    cached = CachedLayout(
        layout,
        Tag(layout, "out", f"{origin}.out", packed=layout.packed),
        Tag(layout, "h_n", f"{origin}.h_n"),
        Tag(layout, "c_n", f"{origin}.c_n"),
        # a view (batch-first, unbatched), as every call of this shape and these settings
        # gives it, but an inference tensor keeps no view: one may come in another mode
        out._is_view() or out.is_inference(),
    )
    return cached, warning


def who(name: str, module: nn.Module) -> str:
    """`'encoder' (LSTM)`, or `<LSTM>` for a hooked root module: for messages."""
    label = quoted_label_of(name, module)
    return f"{label} ({type(module).__name__})" if name else label


def is_fake(tensor: torch.Tensor) -> bool:
    """A FakeTensor or FunctionalTensor (torch.export, torch.compile), or a meta
    tensor made while compiling: tensors of a trace, not of a call."""
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(tensor)) or torch.compiler.is_compiling()


def expected(module: nn.Module) -> str:
    state = "(h_n, c_n)" if isinstance(module, nn.LSTM) else "h_n"
    return f"expected the forward to return (out, {state}) as nn.{type(module).__name__} does"


def structure(value: Any) -> str:
    """`(tensor (2, 6, 8), tensor (2, 2, 4))`: the shape of an output, for messages."""
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)}"
    if isinstance(value, PackedSequence):
        return f"PackedSequence {tuple(value.data.shape)}"
    if isinstance(value, tuple | list) and len(value) <= 4:
        inner = ", ".join(structure(v) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    return type(value).__qualname__


def wrong_shapes(
    layout: Layout, out: torch.Tensor, h_n: torch.Tensor, c_n: torch.Tensor | None
) -> str:
    """What differs from the layout's shapes in out (`.data` if packed), h_n and c_n, or ""."""
    out_axes = layout.axes("out")
    if layout.packed:
        out_ok = out.dim() == 2 and out.shape[-1] == out_axes.shape[-1]
    else:
        out_ok = out_axes.matches(out.shape)
    wrong = [] if out_ok else [f"out {out_axes.expected()}, got {tuple(out.shape)}"]
    states = [("h_n", h_n)] + ([("c_n", c_n)] if c_n is not None else [])
    for role, tensor in states:
        axes = layout.axes(role)  # type: ignore[arg-type]
        if not axes.matches(tensor.shape):
            wrong.append(f"{role} {axes.expected()}, got {tuple(tensor.shape)}")
    if (c_n is None) == (layout.kind == "LSTM"):
        wrong.append("c_n " + ("missing" if c_n is None else "unexpected"))
    return "; ".join(wrong)


def without_graph(t: PackedSequence) -> PackedSequence:
    """A packed sequence whose data is `t.data`'s values without the autograd graph."""
    return PackedSequence(t.data.data, t.batch_sizes, t.sorted_indices, t.unsorted_indices)


def state_without_graph(hx: Any) -> Any:
    """The initial state given to the call, without the graph where it holds one."""
    if isinstance(hx, torch.Tensor):
        return hx.data if hx.requires_grad else hx
    if isinstance(hx, tuple):
        return tuple(state_without_graph(part) for part in hx)
    return hx


def weights_state(module: nn.Module) -> tuple[tuple[int, ...], bool]:
    """The layer's parameters' versions, and whether any has a gradient: what tells later
    that its weights were used (`weights_used_since`)."""
    return weight_versions(module), any(p.grad is not None for p in module.parameters())


def weights_used_since(module: nn.Module, then: tuple[tuple[int, ...], bool]) -> str:
    """How the layer's weights show they were used since `then` (a `weights_state`), or
    `""`: gradients they did not have, or values an optimizer step changed."""
    versions, had_grads = weights_state(module)
    if versions != then[0]:
        return "they changed in place, as an optimizer step changes them"
    if had_grads and not then[1]:
        return "they have gradients they did not have then"
    return ""


class HookCounts(Protocol):
    """What `why_none` reads of a hook (`hook.Hook`)."""

    failures: int
    failure: str
    skipped: int

    @property
    def calls(self) -> int: ...


def why_none(hook: HookCounts, removed: bool, used: str) -> str:
    """Why a hook keeps no record, for the LookupError of `rec[...]`; `used` is what
    `weights_used_since` says."""
    state = "was hooked (the hooks are removed now)" if removed else "is hooked"
    if hook.failures:
        return (
            f"{state}, but none of its calls could be recorded ({hook.failures} failed; "
            f"the latest because {hook.failure})"
        )
    if hook.calls:
        return f"{state}, but its records were cleared by clear(); run the model first"
    if hook.skipped:
        return (
            f"{state}, but its {hook.skipped} call(s) were traced or ran on fake tensors "
            "(torch.jit.trace, torch.export, torch.compile), which are not recorded; "
            "call the model eagerly"
        )
    if used:
        return (
            f"{state}, but no call of it was seen, though its weights were used since it "
            f"was hooked ({used}): something computes with them without calling the "
            "layer or its forward (torch._VF, or a copy of it); call the layer itself"
        )
    return f"{state}, but it has not been called since it was hooked; run the model first"
