"""Text shown for a cell's records: `CellRecord` (one step) and `CellSteps` (its loop),
registered as their views (`_core.providers`)."""

from __future__ import annotations

from .._core.providers import provides
from .._names.cells import CellRole
from .._recording.cell_record import CellRecord
from .._recording.cell_steps import CellSteps

__all__ = ["cell_line", "cell_record_text", "cell_steps_text"]


def _roles(kind: str) -> list[CellRole]:
    return ["input", "h", "c"] if kind == "LSTMCell" else ["input", "h"]


@provides("cell record text")
def cell_record_text(record: CellRecord) -> str:
    """`CellRecord 'decoder.cell' (LSTMCell, hidden=4), step 3`, then each tensor's names.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> cell = torch.nn.RNNCell(3, 4)
        >>> rec = bh.attach_hooks(torch.nn.ModuleDict({"cell": cell}))
        >>> print(rec["cell"] if cell(torch.randn(2, 3)) is not None else "")
        CellRecord 'cell' (RNNCell, hidden=4), step 0
          input  batch feature  batch=2 feature=3
          h      batch hidden   batch=2 hidden=4  token 0 of cell.h
    """
    layout = record.layout
    lines = [f"CellRecord {record.label!r} ({layout.describe_module()}), step {record.step}"]
    roles = _roles(layout.kind)
    width = max(len(layout.axes(role).pattern) for role in roles) + 2
    for role in roles:
        axes = layout.axes(role)
        at = "" if role == "input" else f"  token {record.step} of {record.label}.{role}"
        lines.append(f"  {role:<7}{axes.pattern:<{width}}{axes.described()}{at}")
    return "\n".join(lines)


@provides("cell steps text")
def cell_steps_text(steps: CellSteps) -> str:
    """`CellSteps 'decoder.cell' (LSTMCell, hidden=4, 5 steps)`, then the stacked names."""
    layout = steps.layout
    lines = [f"CellSteps {steps.where}"]
    roles = _roles(layout.kind)
    width = max(len(layout.steps_axes(role, len(steps)).pattern) for role in roles) + 2
    for role in roles:
        axes = layout.steps_axes(role, len(steps))
        lines.append(f"  {role:<7}{axes.pattern:<{width}}{axes.described()}")
    if steps.lengths is not None:
        lengths = ", ".join(map(str, steps.lengths.tolist()))
        lines.append(f"  lengths [{lengths}] (the batch shrinks: {steps.batch_sizes})")
    if steps.first:
        lines.append(f"  from step {steps.first} (earlier steps not kept)")
    return "\n".join(lines)


def cell_line(record: CellRecord) -> str:
    """`decoder.cell: LSTMCell, hidden=4, step 3 · h batch hidden`: one line, for describe."""
    axes = record.layout.axes("h")
    return (
        f"{record.label}: {record.layout.describe_module()}, step {record.step} · h {axes.pattern}"
    )
