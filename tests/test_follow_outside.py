"""`follow=True` follows wherever the model's code runs, not only inside its `forward`.

A recurrent layer called with no mode on (from `model.embed()`, `model.forward_loss()`,
or a training step that calls submodules) enters a mode owned by the user's frame that
called into the model's code: names follow there, the loss included, bugs warn at
their line, and the values are the same as without hooks.
"""

from __future__ import annotations

import copy
import sys
import threading
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._follow.mode import thread_mode


def stack_depth() -> int:
    return int(torch._C._len_torch_function_stack())


class Tagger(nn.Module):
    """Trained through its own methods: `forward` is never called."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 5)
        self.seen: dict[str, Any] = {}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.rnn(x)
        final = torch.cat([h_n[-2], h_n[-1]], -1)
        self.seen["final"] = bh.annotation_of(final)
        return final

    def forward_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.embed(x))
        loss = F.cross_entropy(logits, y)
        self.seen["logits"] = bh.annotation_of(logits)
        return loss

    def wrong(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.rnn(x)
        return h_n.view(-1, 16)  # the bug's line


X, Y = torch.randn(2, 5, 3), torch.tensor([1, 3])


def layout_warnings(call: Any) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, bh.LayoutWarning)]


def test_a_models_own_methods_are_followed() -> None:
    model = Tagger()
    rec = bh.attach_hooks(model, follow=True)
    model.forward_loss(X, Y)
    final, logits = model.seen["final"], model.seen["logits"]
    assert (final.pattern, final.at) == ("batch (direction hidden)", {"layer": 1})
    assert logits is not None
    assert logits.pattern.startswith("batch")
    rec.remove()
    assert stack_depth() == 0


def test_a_bug_in_a_method_warns_at_its_line() -> None:
    model = Tagger()
    rec = bh.attach_hooks(model, follow=True)
    caught = layout_warnings(lambda: model.wrong(X))
    assert len(caught) == 1
    assert "mixes batch with (layer direction)" in str(caught[0].message)
    assert caught[0].filename == __file__
    assert caught[0].lineno == Tagger.wrong.__code__.co_firstlineno + 2
    # the correct form, in the same kind of call, is silent
    assert layout_warnings(lambda: model.embed(X)) == []
    rec.remove()


def train_step(model: Tagger, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    _, (h_n, _) = model.rnn(x)  # a submodule, called by the step itself
    final = torch.cat([h_n[-2], h_n[-1]], -1)
    loss = F.cross_entropy(model.fc(final), y)
    return {"final": bh.annotation_of(final), "owner": thread_mode(), "loss": loss}


def test_a_training_step_that_calls_submodules_is_followed_until_it_returns() -> None:
    model = Tagger()
    rec = bh.attach_hooks(model, follow=True)
    seen = train_step(model, X, Y)
    assert seen["final"] is not None
    assert seen["final"].pattern == "batch (direction hidden)"
    assert seen["owner"] is not None
    assert seen["owner"].owner is not sys._getframe()  # the step's frame, not this one
    # the step returned: what this frame computes is no longer followed
    h_n = rec["rnn"].h_n.tensor
    assert bh.annotation_of(h_n.clone()) is None
    assert layout_warnings(lambda: h_n.view(-1, 16)) == []
    # the next step takes the ended mode off and follows in its own
    again = train_step(model, X, Y)
    assert again["owner"] is not seen["owner"]
    assert again["final"] is not None
    rec.remove()
    assert stack_depth() == 0


def test_inside_the_models_forward_nothing_changes() -> None:
    class Classifier(Tagger):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.embed(x))

    model = Classifier()
    rec = bh.attach_hooks(model, follow=True)
    model(X)
    assert stack_depth() == 0  # the forward's own mode, left at its end
    assert model.seen["final"] is not None
    rec.remove()


def test_following_outside_changes_no_value_or_gradient() -> None:
    torch.manual_seed(0)
    model = Tagger()
    twin = copy.deepcopy(model)
    rec = bh.attach_hooks(model, follow=True)
    got, want = model.forward_loss(X, Y), twin.forward_loss(X, Y)
    assert torch.equal(got, want)
    got.backward()
    want.backward()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert a.grad is not None
        assert b.grad is not None
        assert torch.equal(a.grad, b.grad)
    rec.remove()


def test_each_thread_follows_in_its_own_mode() -> None:
    model = Tagger()
    rec = bh.attach_hooks(model, follow=True)
    results: list[Any] = []

    def work() -> None:
        results.append(train_step(model, X, Y)["final"])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.pattern for r in results] == ["batch (direction hidden)"] * 4
    assert thread_mode() is None  # this thread entered none
    rec.remove()


def test_without_follow_a_method_is_not_followed() -> None:
    model = Tagger()
    rec = bh.attach_hooks(model)
    model.embed(X)
    assert model.seen["final"] is None
    assert stack_depth() == 0
    rec.remove()


def test_the_layers_pre_hooks_leave_no_trace_in_a_saved_model() -> None:
    import io

    model = Tagger()
    rec = bh.attach_hooks(model, follow=True)
    assert len(model.rnn._forward_pre_hooks) == 2  # the entrance check, the call outside
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert len(loaded.rnn._forward_pre_hooks) == 0
    assert len(model.rnn._forward_pre_hooks) == 2  # the original keeps them
    rec.remove()
    assert len(model.rnn._forward_pre_hooks) == 0
