"""The public surface: `__all__` pinned, `__version__` from the one place it lives."""

from __future__ import annotations

import importlib.metadata

import bilstm_hooks as bh

EXPECTED_ALL = [
    "AnnotatedTensor",
    "Axes",
    "CellRecord",
    "CellSteps",
    "Diagram",
    "Finding",
    "LayoutError",
    "LayoutReport",
    "LayoutWarning",
    "Record",
    "Recorder",
    "Saturation",
    "Summary",
    "Unrolled",
    "UnusedDirectionWarning",
    "annotation_of",
    "attach_hooks",
    "check_model",
    "describe",
    "final_representation",
    "follow",
    "last_outputs",
    "patch_repr",
    "split_directions",
    "split_layers",
    "summary",
    "unpatch_repr",
]


def test_all_is_pinned() -> None:
    assert bh.__all__ == EXPECTED_ALL


def test_every_public_name_is_importable_and_public() -> None:
    for name in bh.__all__:
        obj = getattr(bh, name)
        assert not name.startswith("_")
        assert obj.__module__.startswith("bilstm_hooks.")


def test_no_other_public_names_leak() -> None:
    public = {name for name in vars(bh) if not name.startswith("_")}
    # submodules are private (`_layout`, ...); everything public is in __all__
    assert public == set(EXPECTED_ALL)


def test_version_matches_the_installed_distribution() -> None:
    assert bh.__version__ == importlib.metadata.version("bilstm-hooks")
