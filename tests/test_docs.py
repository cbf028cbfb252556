"""The documentation site builds without a warning and documents every public name.

The code blocks of docs/*.md and README.md run as tests of their own (pytest-markdown-docs);
where a `text` block follows a `python` block, it is that block's output, checked here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bilstm_hooks as bh

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
# a python block, a blank line, then a text block: the text is what the code prints
CODE_THEN_OUTPUT = re.compile(
    r"```python\n((?:(?!```).)*?)```\n\n```text\n((?:(?!```).)*?)```\n", re.DOTALL
)


def _outputs() -> list[tuple[Path, int]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in CODE_THEN_OUTPUT.finditer(text):
            found.append((page, text.count("\n", 0, match.start()) + 1))
    return found


@pytest.mark.parametrize(
    ("page", "line"), _outputs(), ids=lambda v: v.name if isinstance(v, Path) else str(v)
)
def test_printed_output_in_the_docs_is_current(
    page: Path, line: int, overwrite_golden: bool
) -> None:
    text = page.read_text(encoding="utf-8")
    offset = sum(len(part) + 1 for part in text.split("\n")[: line - 1])
    match = CODE_THEN_OUTPUT.match(text, offset)
    assert match is not None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(match.group(1), f"{page.name}:{line}", "exec"), {"__name__": "__main__"})
    got = "\n".join(line.rstrip() for line in printed.getvalue().splitlines()) + "\n"
    if overwrite_golden:
        start, end = match.span(2)
        page.write_text(text[:start] + got + text[end:], encoding="utf-8")
        return
    assert match.group(2) == got


def test_mkdocs_build_is_strict_clean_and_documents_all(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, output

    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    undocumented = [name for name in bh.__all__ if f'id="bilstm_hooks.{name}"' not in api]
    assert not undocumented, f"add these to docs/api.md: {undocumented}"
