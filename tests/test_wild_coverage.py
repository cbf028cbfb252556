"""The wild set (benchmarks/wild/, replicas of public models the rules were not written
against) stays named and quiet: benchmarks/wild_coverage.py in-process, as issue 18 asks.

At least 90% of the derived locals named right, none named wrong, no LayoutWarning on
correct code, outputs and gradients bitwise equal with and without following.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: never ahead of the bilstm_hooks under test

from benchmarks import wild_coverage  # noqa: E402


def test_the_wild_set_is_named_right_and_warned_only_on_its_bugs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = wild_coverage.main(["--require", "90"])
    report = capsys.readouterr().out
    assert status == 0, report
    assert "named wrong: 0" in report or "named wrong" not in report, report
    assert "LayoutWarnings on correct code: 0" in report
