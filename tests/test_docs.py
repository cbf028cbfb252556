"""The documentation site builds without a warning and documents every public name.

The code blocks of docs/*.md and README.md run as tests of their own (pytest-markdown-docs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bilstm_hooks as bh

ROOT = Path(__file__).resolve().parent.parent


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
