"""Text and HTML of an Unrolled: its repr, its notebook view, and one screen for the demo."""

from __future__ import annotations

import math
from html import escape

from .._base.dtypes import dtype_name
from .._core.annotated import AnnotatedTensor
from .._core.providers import provides
from .._names.layout import DIRECTIONS, Axes
from .._recording.record import Record
from .._replay.unrolled import Unrolled, unroll_axes
from .tensor_children import Child, Deferred

__all__ = ["screen", "unrolled_html", "unrolled_repr", "unrolled_text"]

_MAX_UNITS, _MAX_TOKENS = 6, 8


def _gates_ready(unrolled: Unrolled) -> bool:
    return unrolled.replayed.gates is not None or "gates" in unrolled.__dict__


def _roles(unrolled: Unrolled) -> list[tuple[str, Axes, str]]:
    """(name, axes, note) of each tensor the unroll holds, read from the layout only."""
    layout = unrolled.layout
    roles = [("out", unroll_axes(layout, layout.h_out), "")]
    if layout.kind == "LSTM":
        roles.append(("c", unroll_axes(layout, layout.hidden), ""))
    if unrolled.gate_names:
        note = f"({', '.join(unrolled.gate_names)})"
        if not _gates_ready(unrolled):
            note += ", replayed when first read"
        roles.append(("gates", unroll_axes(layout, layout.hidden, len(unrolled.gate_names)), note))
    return roles


def _mask_note(unrolled: Unrolled) -> str:
    lengths = unrolled.lengths
    if lengths is None:
        return ""
    return f"batch token: True at valid steps (zeros elsewhere); lengths {lengths.tolist()}"


@provides("unrolled text")
def unrolled_repr(unrolled: Unrolled) -> str:
    lines = [f"Unrolled {unrolled.record.where}: every layer at every token"]
    for name, axes, note in _roles(unrolled):
        lines.append(f"  {name:<7}{axes.described()}  {note}".rstrip())
    note = _mask_note(unrolled)
    if note:
        lines.append(f"  {'mask':<7}{note}")
    return "\n".join(lines)


@provides("unrolled html")
def unrolled_html(unrolled: Unrolled) -> str:
    from .diagram import diagram
    from .html import BOX, html_table

    rows = [
        (
            f"<code>{name}</code>",
            f"<code>{escape(a.pattern)}</code>",
            escape(a.described()),
            escape(note),
        )
        for name, a, note in _roles(unrolled)
    ]
    note = _mask_note(unrolled)
    extra = f"<div>{escape(note)}</div>" if note else ""
    if _gates_ready(unrolled):
        extra += unrolled.saturation()._repr_html_()
    record = unrolled.record
    picture = diagram(record, values=unrolled).svg if isinstance(record, Record) else ""
    return (
        f"<div {BOX}><b>Unrolled {escape(unrolled.record.where)}</b>: every layer at "
        f"every token{html_table(('', 'pattern', 'sizes', ''), rows)}{extra}"
        f"<details open><summary>diagram</summary>{picture}</details></div>"
    )


def _columns(tokens: int) -> list[int | None]:
    if tokens <= _MAX_TOKENS:
        return list(range(tokens))
    half = _MAX_TOKENS // 2
    return [*range(half), None, *range(tokens - half + 1, tokens)]


def screen(unrolled: Unrolled, *, sequence: int = 0) -> str:
    """The repr, the check, layer 0's h at every token of one sequence, the saturation."""
    layout = unrolled.layout
    batch = layout.batch if layout.batched else 1
    if not 0 <= sequence < (batch or 0):
        raise ValueError(f"expected a sequence in 0..{(batch or 1) - 1}, got {sequence}")
    worst = unrolled.check()
    lines = unrolled_repr(unrolled).splitlines()
    states = "out, h_n and c_n" if layout.kind == "LSTM" else "out and h_n"
    bound = f"< 1e{math.ceil(math.log10(worst))}" if worst > 0 else "0"
    lines.append(f"  {'check':<7}agrees with the fused call's {states}: max |difference| {bound}")
    h = unrolled.replayed.out[0, :, sequence].cpu().float()  # direction token hidden
    valid = unrolled.replayed.mask[sequence].tolist()
    columns = _columns(layout.tokens)
    which = f", sequence {sequence}" if layout.batched else ""
    shown = "none of it" if layout.layers > 1 else "all of it, as out"
    lines += ["", f"layer 0, h at every token{which} (the fused call returns {shown}):"]
    lines.append(
        " " * 15 + "".join(f"{'t' + str(t) if t is not None else '…':>7}" for t in columns)
    )
    units = min(layout.h_out, _MAX_UNITS)
    for d in range(layout.directions):
        for unit in range(units):
            label = f"{DIRECTIONS[d]:<9} h{unit}" if unit == 0 else f"{'':<9} h{unit}"
            cells = []
            for t in columns:
                if t is None:
                    cells.append(f"{'…':>7}")
                elif not valid[t]:
                    cells.append(f"{'pad':>7}")
                else:
                    cells.append(f"{round(float(h[d, t, unit]), 2) + 0.0:>+7.2f}")  # no -0.00
            lines.append(f"  {label:<13}{''.join(cells)}")
        if layout.h_out > units:
            lines.append(f"  {'':<9} … {layout.h_out - units} more hidden units")
    if unrolled.gate_names:
        lines += ["", repr(unrolled.saturation())]
    return "\n".join(lines)


# -- debuggers ---------------------------------------------------------------------------
def unrolled_value(unrolled: Unrolled) -> str:
    """The debugger's value line: `<LSTM>.unroll(): layer=2 direction=2 ... · float32 cpu`."""
    out = unrolled.replayed.out
    axes = unroll_axes(unrolled.layout, unrolled.layout.h_out)
    dtype = dtype_name(out.dtype)
    return f"{unrolled.record.label}.unroll(): {axes.described()} · {dtype} {out.device}"


def unrolled_children(unrolled: Unrolled) -> list[Child]:
    """One child per layer and direction (views of `.out`), then c, gates, mask, record.

    Listed, never the object's attributes: reading `.gates` may replay the call.
    """

    layout = unrolled.layout
    out = unrolled.out
    rest = out.axes.without("layer").without("direction")
    items: list[Child] = []
    for layer in range(layout.layers):
        for d in range(layout.directions):
            name = f"layer {layer} {DIRECTIONS[d]}" if layout.directions == 2 else f"layer {layer}"
            view = AnnotatedTensor(out.tensor[layer, d], rest, f"{out.origin}[{name}]")
            items.append((name, view, f".out.tensor[{layer}, {d}]"))
    items += [("out", out, ".out")]
    if unrolled.c is not None:
        items.append(("c", unrolled.c, ".c"))
    if unrolled.gate_names:
        gates: object
        if _gates_ready(unrolled):
            gates = unrolled.gates
        else:
            axes = unroll_axes(layout, layout.hidden, len(unrolled.gate_names))
            text = f"{axes.described()} · replayed when expanded"
            gates = Deferred(text, lambda: unrolled.gates, "AnnotatedTensor")
        items.append(("gates", gates, ".gates"))
        items.append(("gate_names", unrolled.gate_names, ".gate_names"))
    items += [("mask", unrolled.mask, ".mask"), ("record", unrolled.record, ".record")]
    return items


def unrolled_text(record: Record, *, sequence: int = 0) -> str:
    """One screen of text about unrolling `record`: the tensors, the check, layer 0's h at
    every token (the layer `out` never shows) and the gate saturation.

    Examples:
        >>> import torch, bilstm_hooks as bh
        >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        >>> with bh.attach_hooks(lstm) as rec:
        ...     out, _ = lstm(torch.randn(1, 6, 3))
        >>> print(unrolled_text(rec[lstm]).splitlines()[1])
          out    layer=2 direction=2 batch=1 token=6 hidden=4
    """
    return screen(record.unroll(gates=True), sequence=sequence)
