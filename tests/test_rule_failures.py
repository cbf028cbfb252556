"""A follow rule that raises is counted and warned about once, as the hook's failures are;
the op's result is untouched and unnamed, and the user's code goes on."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

import bilstm_hooks as bh
from bilstm_hooks._follow import mode as follow_mode
from bilstm_hooks._follow.rules import RULES


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> follow_mode.RuleFailures:
    fresh = follow_mode.RuleFailures()
    monkeypatch.setattr(follow_mode, "RULE_FAILURES", fresh)
    return fresh


@pytest.fixture
def h_n() -> torch.Tensor:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    bh.attach_hooks(lstm)
    _, (h_n, _) = lstm(torch.randn(5, 2, 3))
    return h_n


def test_a_failing_rule_is_counted_and_warned_once(
    monkeypatch: pytest.MonkeyPatch, failures: follow_mode.RuleFailures, h_n: torch.Tensor
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(RULES, torch.cat, broken)
    expected = torch.cat([h_n[-2], h_n[-1]], -1)
    with warnings.catch_warnings(record=True) as caught, bh.follow():
        warnings.simplefilter("always")
        first = torch.cat([h_n[-2], h_n[-1]], -1)
        second = torch.cat([h_n[-2], h_n[-1]], -1)
    assert [w.category for w in caught] == [RuntimeWarning]
    message = str(caught[0].message)
    assert message.startswith(
        "bilstm_hooks could not follow names through torch.cat: RuntimeError: boom."
    )
    assert "Later failures of the follow rules are not warned about." in message
    assert caught[0].filename == __file__  # the user's line, not the library's
    assert torch.equal(first, expected)
    assert torch.equal(second, expected)
    assert bh.annotation_of(first) is None
    assert (failures.count, failures.cause) == (2, "torch.cat: RuntimeError: boom")


def test_rules_that_work_count_nothing(
    failures: follow_mode.RuleFailures, h_n: torch.Tensor
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of any kind
        with bh.follow():
            final = torch.cat([h_n[-2], h_n[-1]], -1)
            doubled = final * 2
    assert bh.annotation_of(doubled) is not None
    assert failures.count == 0
    assert not failures.warned
