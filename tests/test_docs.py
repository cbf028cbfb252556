"""The documentation site builds without a warning and documents every public name.

The code blocks of docs/*.md and README.md run as tests of their own (pytest-markdown-docs);
where a `text` block follows a `python` block, it is that block's output, checked here.
"""

from __future__ import annotations

import contextlib
import inspect
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


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site, built once for this module: its folder and what `mkdocs build` printed."""
    site = tmp_path_factory.mktemp("docs") / "site"
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
    return site, output


def test_mkdocs_build_is_strict_clean_and_documents_all(built_site: tuple[Path, str]) -> None:
    site, output = built_site
    assert "WARNING" not in output, output

    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    undocumented = [name for name in bh.__all__ if f'id="bilstm_hooks.{name}"' not in api]
    assert not undocumented, f"add these to docs/api.md: {undocumented}"


# each documented object's own part of the API page runs from its heading to the next one
HEADING = re.compile(r'<h[1-6] id="(bilstm_hooks(?:\.\w+)+)" class="doc doc-heading">')
PROMPT = '<span class="gp">&gt;&gt;&gt; </span>'  # pygments' pycon prompt: only in a code block
CODE_BLOCK = '<div class="highlight"><pre><span></span><code>'
HIGHLIGHTED_EXAMPLE = re.compile(re.escape(CODE_BLOCK + PROMPT))


def _docstring(path: str) -> str:
    """The docstring of `bilstm_hooks.X.y` when it is ours, else "" (a plain int's is not)."""
    obj: object = bh
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    module = getattr(getattr(obj, "fget", obj), "__module__", None) or ""
    return (inspect.getdoc(obj) or "") if module.startswith("bilstm_hooks") else ""


def test_api_examples_render_as_highlighted_code(built_site: tuple[Path, str]) -> None:
    """griffe reads `Examples:` as doctest code; a singular `Example:` is an admonition whose
    `>>>` lines Markdown turns into three nested blockquotes of run-together prose."""
    site, _ = built_site
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    marks = list(HEADING.finditer(api))
    parts = {
        mark.group(1): api[mark.end() : after.start() if after else len(api)]
        for mark, after in zip(marks, [*marks[1:], None], strict=True)
    }
    with_examples = [path for path in parts if ">>> " in _docstring(path)]
    for name in ("attach_hooks", "Record.unroll", "AnnotatedTensor.rearrange"):
        assert f"bilstm_hooks.{name}" in with_examples, f"{name}: its example is gone"
    not_code = [path for path in with_examples if not HIGHLIGHTED_EXAMPLE.search(parts[path])]
    assert not not_code, f"examples not rendered as highlighted code: {not_code}"
    quoted = [path for path, part in parts.items() if "<blockquote>" in part]
    assert not quoted, f"blockquotes (doctest lines read as Markdown?) in: {quoted}"
    assert '<details class="example"' not in api, "an `Example:` admonition: write `Examples:`"
    assert api.count("&gt;&gt;&gt; ") == api.count(PROMPT), "a `>>>` outside a code block"
