"""The follow mode's place on torch's mode stack: off whatever ends a forward, one per thread,
invisible to a user's own `TorchFunctionMode`, and out of `torch.compile`'s way.

`test_follow.py` holds the rules; this file holds what the probe of issue 16 found:
an interrupt leaving the mode on, nested modes warning twice, a user's mode seeing the
library's own reads, Dynamo tracing into the library.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import bilstm_hooks as bh
from bilstm_hooks._follow.mode import thread_mode


def stack_depth() -> int:
    return torch._C._len_torch_function_stack()


class Encoder(nn.Module):
    """A bidirectional LSTM and a head; `interrupt` is raised after the LSTM, if set."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.head = nn.Linear(8, 2)
        self.interrupt: BaseException | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (h_n, _) = self.lstm(x)
        if self.interrupt is not None:
            raise self.interrupt
        final = torch.cat([h_n[-2], h_n[-1]], -1)
        return self.head(final) + out[:, 0].relu().mean() + out.sum(1).amax()


def layout_warnings(action: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught if issubclass(w.category, bh.LayoutWarning)]


# -- interrupts --------------------------------------------------------------------------------
@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3), GeneratorExit()])
def test_an_interrupt_inside_a_followed_forward_leaves_nothing_that_follows(
    interrupt: BaseException,
) -> None:
    model = Encoder()
    rec = bh.attach_hooks(model, follow=True)
    model.interrupt = interrupt
    with pytest.raises(type(interrupt)):
        model(torch.randn(2, 5, 3))
    model.interrupt = None
    # outside any forward: no names follow, no bug warns (the mode stands aside)
    h_n = rec["lstm"].h_n.tensor
    assert layout_warnings(lambda: h_n.view(2, -1)) == []
    assert bh.annotation_of(h_n.clone()) is None  # a copy: named only while following
    # the next forward takes it off the stack, follows, and leaves an empty stack behind
    logits = model(torch.randn(2, 5, 3))
    assert stack_depth() == 0
    assert bh.annotation_of(logits) is not None
    rec.remove()


def test_after_an_interrupt_a_follow_block_takes_the_mode_off() -> None:
    model = Encoder()
    rec = bh.attach_hooks(model, follow=True)
    model.interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        model(torch.randn(2, 5, 3))
    assert stack_depth() == 1  # left by the interrupt: torch runs no hook for it
    with bh.follow():
        assert stack_depth() == 1  # one mode: the block's
    assert stack_depth() == 0
    rec.remove()


def test_after_an_interrupt_a_hooked_call_takes_the_mode_off() -> None:
    model = Encoder()
    rec = bh.attach_hooks(model, follow=True)
    model.interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        model(torch.randn(2, 5, 3))
    assert stack_depth() == 1
    interrupted = thread_mode()
    model.lstm(torch.randn(2, 5, 3))  # the layer alone, outside the model's forward
    # the interrupted mode is off; the call follows in a mode of its own, owned by the
    # frame that called the layer (this test), which the recorder's removal takes off
    assert stack_depth() == 1
    mode = thread_mode()
    assert mode is not interrupted
    assert mode is not None
    assert mode.owner is sys._getframe()
    rec.remove()
    assert stack_depth() == 0


def test_an_interrupt_in_a_followed_model_inside_a_block_leaves_the_block_on() -> None:
    model = Encoder()
    rec = bh.attach_hooks(model, follow=True)

    def state() -> torch.Tensor:  # followed until it returns
        return model.lstm(torch.randn(2, 5, 3))[1][0]

    h_n = state()
    model.interrupt = KeyboardInterrupt()
    with bh.follow():
        with pytest.raises(KeyboardInterrupt):
            model(torch.randn(2, 5, 3))
        # the block's mode was on before the forward and stays, still following
        assert stack_depth() == 1
        assert bh.annotation_of(h_n.clone()) is not None
    assert stack_depth() == 0
    rec.remove()


# -- one mode per thread: one warning per bug --------------------------------------------------
def test_nested_follow_blocks_warn_once_per_bug() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(3, 5, 3))

    def nested() -> None:
        with bh.follow(), bh.follow():
            assert stack_depth() == 1
            h_n.view(3, -1)

    assert len(layout_warnings(nested)) == 1
    assert stack_depth() == 0
    rec.remove()


class Mixer(nn.Module):
    """The classic bug: h_n viewed as (batch, -1) mixes sequences."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(x)
        return h_n.view(x.shape[0], -1)


def test_a_followed_model_inside_a_block_warns_once_and_leaves_the_block_on() -> None:
    model = Mixer()
    rec = bh.attach_hooks(model, follow=True)

    def inside_a_block() -> None:
        with bh.follow():
            model(torch.randn(3, 5, 3))
            assert stack_depth() == 1  # the forward left the block's mode alone

    assert len(layout_warnings(inside_a_block)) == 1
    assert len(layout_warnings(lambda: model(torch.randn(3, 5, 3)))) == 1  # alone: once too
    rec.remove()


def test_a_followed_model_inside_another_warns_once() -> None:
    inner = Mixer()

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) * 2

    outer = Outer()
    rec_inner = bh.attach_hooks(inner, follow=True)
    rec_outer = bh.attach_hooks(outer, follow=True)
    assert len(layout_warnings(lambda: outer(torch.randn(3, 5, 3)))) == 1
    assert stack_depth() == 0
    rec_outer.remove()
    rec_inner.remove()


# -- a user's own mode sees the model's ops, not the library's --------------------------------
class Counting(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: collections.Counter[str] = collections.Counter()

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        self.calls[getattr(func, "__name__", repr(func))] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("how", ["follow=True", "bh.follow()", "follow=True inside bh.follow()"])
def test_a_user_mode_around_a_followed_forward_counts_what_it_counts_without_it(how: str) -> None:
    bare, followed = Encoder(), Encoder()
    followed.load_state_dict(bare.state_dict())
    rec = bh.attach_hooks(followed, follow=how != "bh.follow()")
    x = torch.randn(2, 5, 3)
    with Counting() as without:
        expected = bare(x)
    with Counting() as around:
        if how == "follow=True":
            got = followed(x)
        else:
            with bh.follow():
                got = followed(x)
    assert torch.equal(got, expected)
    assert around.calls == without.calls
    assert sum(without.calls.values()) > 10  # it did count the model's ops
    rec.remove()


def test_a_user_mode_inside_a_followed_forward_sees_the_models_ops_only() -> None:
    seen: list[collections.Counter[str]] = []

    class Inside(Encoder):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with Counting() as counting:
                result = super().forward(x)
            seen.append(counting.calls)
            return result

    bare, followed = Inside(), Inside()
    followed.load_state_dict(bare.state_dict())
    rec = bh.attach_hooks(followed, follow=True)
    x = torch.randn(2, 5, 3)
    assert torch.equal(followed(x), bare(x))
    assert seen[0] == seen[1]
    rec.remove()


# -- torch.compile --------------------------------------------------------------------------------
_COMPILED = textwrap.dedent(
    """
    import logging, warnings, torch
    from torch import nn
    import bilstm_hooks as bh
    warnings.simplefilter("always")
    torch.manual_seed(0)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
            self.head = nn.Linear(8, 2)
        def forward(self, x):
            out, (h, c) = self.lstm(x)
            return self.head(torch.cat([h[-2], h[-1]], -1)) + out.mean(1).sum()

    model = Model()
    bare = Model()
    bare.load_state_dict(model.state_dict())
    rec = bh.attach_hooks(model, follow=True)
    compiled = torch.compile(model, backend="eager")
    for batch in range(2, 12):
        x = torch.randn(batch, 5, 3)
        assert torch.equal(compiled(x), bare(x))
    print("recorded", rec["lstm"].out.sizes["batch"], rec.calls("lstm"))
    """
)


def test_compiling_a_followed_model_says_nothing_about_the_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COMPILED], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "recorded 11 10" in done.stdout
    assert "bilstm_hooks" not in done.stderr, done.stderr
    assert "recompile_limit" not in done.stderr
    assert "lru_cache" not in done.stderr
