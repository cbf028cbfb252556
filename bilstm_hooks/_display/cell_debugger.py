"""A cell's records in a debugger's variables pane: a `CellRecord` (one step, its state
and its place in the loop) and its loop's `CellSteps`, stacked only when expanded.

Examples:
    >>> import torch, bilstm_hooks as bh
    >>> cell = torch.nn.GRUCell(3, 4)
    >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"cell": cell}))
    >>> h = cell(torch.randn(2, 3))
    >>> h = cell(torch.randn(2, 3), h)
    >>> [(name, repr(value)) for name, value, _ in cell_record_children(rec["cell"])][2:4]
    [('step', '1'), ('input', 'AnnotatedTensor[batch=2, feature=3]')]
"""

from __future__ import annotations

from .._recording.cell_record import CellRecord
from .._recording.cell_steps import CellSteps
from .tensor_children import Child, Deferred

__all__ = ["cell_record_children", "cell_steps_children", "cell_value"]


def cell_value(obj: CellRecord | CellSteps) -> str:
    """The value line: `cell: GRUCell, hidden=4, step 1 · h batch hidden`, or the loop's."""
    if isinstance(obj, CellSteps):
        return f"{obj.where} · h {obj.layout.steps_axes('h', len(obj)).pattern}"
    axes = obj.layout.axes("h")
    return f"{obj.label}: {obj.layout.describe_module()}, step {obj.step} · h {axes.pattern}"


def cell_record_children(record: CellRecord) -> list[Child]:
    """The step's tensors, then its loop (Deferred: stacked when expanded) and the cell."""
    items: list[Child] = [("name", record.name, ".name"), ("kind", record.kind, ".kind")]
    items += [("step", record.step, ".step"), ("input", record.input, ".input")]
    items += [("h", record.h, ".h")]
    if record.c is not None:
        items.append(("c", record.c, ".c"))
    items += [("h_0", record.h_0, ".h_0")]
    if record.kind == "LSTMCell":
        items.append(("c_0", record.c_0, ".c_0"))
    loop = record.steps()
    text = f"{loop.where} · stacked when expanded"
    items.append(("steps", Deferred(text, record.steps, "CellSteps"), ".steps()"))
    items += [("module", record.module, ".module"), ("layout", record.layout, ".layout")]
    return items


def cell_steps_children(steps: CellSteps) -> list[Child]:
    """The loop's stacked tensors (`batch token ...`), its first step and the cell."""
    items: list[Child] = [("input", steps.input, ".input"), ("h", steps.h, ".h")]
    if steps.c is not None:
        items.append(("c", steps.c, ".c"))
    items += [("h_0", steps.h_0, ".h_0"), ("first", steps.first, ".first")]
    items += [("module", steps.module, ".module")]
    return items
