#!/usr/bin/env bash
# A plain `pip install` of the built wheel, as a user gets it: a fresh venv with only
# torch, then the wheel (its dependencies from the index), then import, the pydevd
# plugin where pydevd looks for it, and `bilstm-hooks demo`. Run by `make test`.
#   usage: scripts/check_wheel.sh PYTHON_WITH_HATCHLING BASE_PYTHON TORCH_REQUIREMENT
set -euo pipefail
builder=$1 base=$2 torch_req=$3
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/bilstm-hooks-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$builder" -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/dist" "$root"
"$base" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet "$torch_req"
"$py" -m pip install --quiet "$work"/dist/bilstm_hooks-*.whl
cd "$work"  # away from the checkout: only the installed package can be imported
"$py" -W error - <<'PY'
import importlib.util, pathlib, sys
import bilstm_hooks as bh
assert pathlib.Path(bh.__file__).is_relative_to(sys.prefix), bh.__file__
spec = importlib.util.find_spec("pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks")
assert spec is not None and spec.origin.startswith(sys.prefix), spec
print(f"wheel: bilstm_hooks {bh.__version__} imports with only torch and its declared dependencies")
PY
"$work/venv/bin/bilstm-hooks" demo --no-color > "$work/demo.txt"
grep -q "every identity holds" "$work/demo.txt"
echo "wheel: bilstm-hooks demo ran ($(wc -l < "$work/demo.txt") lines)"
# the debugger plugin imports pydevd's API: it loads once pydevd (or debugpy) is there
"$py" -m pip install --quiet pydevd
"$py" -W error -c "import pydevd_plugins.extensions.pydevd_plugin_bilstm_hooks as p; print('wheel: pydevd plugin imports:', ', '.join(p.__all__))"
