"""The caveats shown with a view's names: a direction alone, the first layer, padding, slices.

>>> from bilstm_hooks._names.notes import notes_for, slice_note
>>> notes_for({"layer": 1, "direction": 1}, {"layer": 2, "direction": 2}, None, {}, {})
('backward direction only',)
>>> slice_note("token", 2, 5, 1), slice_note("direction", 1, -1, -1)[:34]
('token 2:5', 'direction order: backward, forward')
>>> order_note((2, 0, 0))
'batch order: sequences 2, 0, 0'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .layout import DIRECTIONS

__all__ = [
    "is_order_note",
    "is_padding_note",
    "is_padding_rows",
    "kept_lengths",
    "notes_for",
    "order_note",
    "padding_rows",
    "rows_of",
    "slice_note",
    "slice_notes",
]


def rows_of(
    lengths: tuple[int, ...] | None,
    at: Mapping[str, int],
    sliced: Mapping[str, tuple[int, int, int]],
) -> tuple[tuple[int, ...] | None, dict[int, int] | None]:
    """The lengths of the view's batch rows; for a single row, `{row: its length}`."""
    if lengths is None:
        return None, None
    if "batch" in at:
        row = at["batch"]
        return None, {row: lengths[row]}
    if "batch" in sliced:
        start, stop, step = sliced["batch"]
        return lengths[start:stop:step], None
    return lengths, None


def kept_lengths(
    lengths: tuple[int, ...] | None, token: tuple[int, int, int] | None
) -> tuple[int, ...] | None:
    """The lengths along a token axis that keeps positions `range(*token)` of one padded
    with `lengths`: each sequence's kept positions below its length (None where the
    order is reversed: its valid tokens are then no prefix).

    Examples:
        >>> kept_lengths((5, 2), (0, 6, 2)), kept_lengths((5, 2), (3, 6, 1))
        ((3, 1), (2, 0))
    """
    if lengths is None or token is None:
        return lengths
    start, stop, step = token
    if step < 1:
        return None
    return tuple(len(range(start, min(stop, n), step)) for n in lengths)


def slice_notes(slices: Mapping[str, tuple[int, int, int]]) -> tuple[str, ...]:
    return tuple(slice_note(name, *where) for name, where in slices.items())


def slice_note(name: str, start: int, stop: int, step: int) -> str:
    """`token 2:5`, `token 0:6:2`; a reversed order by position: `direction order:
    backward, forward`."""
    if step > 0:
        return f"{name} {start}:{stop}" + (f":{step}" if step != 1 else "")
    order = range(start, stop, step)
    shown = ", ".join(DIRECTIONS[i] if name == "direction" else str(i) for i in order)
    return f"{name} order: {shown} (bh.final_representation gives them in order)"


_MAX_LISTED = 8  # sequences listed in an order note


def order_note(sequences: tuple[int | None, ...]) -> str:
    """`batch order: sequences 2, 0, 0`: the rows of the original each batch row holds."""
    if any(s is None for s in sequences):
        return "batch rows reordered: which sequence each holds is not known"
    listed = ", ".join(map(str, sequences[:_MAX_LISTED]))
    return f"batch order: sequences {listed}{', …' if len(sequences) > _MAX_LISTED else ''}"


def is_order_note(note: str) -> bool:
    """Whether `note` is an `order_note`."""
    return note.startswith(("batch order: sequences ", "batch rows reordered: "))


def notes_for(
    at: Mapping[str, int],
    sizes: Mapping[str, int],
    lengths: tuple[int, ...] | Mapping[int | None, int] | None,
    new: Mapping[str, int],
    sliced: Mapping[str, tuple[int, int, int]],
) -> tuple[str, ...]:
    """Caveats of the positions indexed away: a direction alone, the first layer, padding.

    `sizes` are those of the original tensor; `lengths` those of the view's batch rows
    (a mapping `{row: length}` when one row was taken, the row in the original, None
    where it is not known).
    """
    notes = []
    if "direction" in at and sizes.get("direction", 1) == 2:
        notes.append(f"{DIRECTIONS[at['direction']]} direction only")
    if at.get("layer") == 0 and sizes.get("layer", 1) > 1:
        notes.append("first layer")
    if "token" in new and "direction" not in at and sizes.get("direction") == 2:
        token, last = new["token"], sizes.get("token", 0) - 1
        if token == last:
            notes.append("the last token: its backward half has read only this token")
        elif token == 0:
            notes.append("token 0: its forward half has read only this token")
    if "token" in new and lengths is not None:
        token = new["token"]
        if isinstance(lengths, Mapping):
            ((row, length),) = lengths.items()
            if length <= token:
                which = "its sequence" if row is None else f"sequence {row}"
                notes.append(f"padding: {which} has {length} tokens")
        else:
            notes += padding_rows(lengths, token)
    notes += slice_notes(sliced)
    return tuple(notes)


def padding_rows(lengths: tuple[int, ...], token: int) -> tuple[str, ...]:
    """`("rows 0, 2 are padding",)`: the batch rows padded at `token`, or `()`."""
    rows = [b for b, n in enumerate(lengths) if n <= token]
    if not rows:
        return ()
    listed = ", ".join(map(str, rows))
    return (f"row{'s' if len(rows) > 1 else ''} {listed} {_are(rows)} padding",)


def is_padding_note(note: str) -> bool:
    """Whether `note` says which rows are padding at a token (`padding_rows`, or `padding:
    sequence 2 has 2 tokens`): true of the rows it was said of only."""
    return is_padding_rows(note) or note.startswith("padding: ")


def is_padding_rows(note: str) -> bool:
    """Whether `note` is one of `padding_rows`: it names rows by their place in the batch."""
    return _PADDING_ROWS.fullmatch(note) is not None


_PADDING_ROWS = re.compile(r"rows? \d+(, \d+)* (is|are) padding")


def _are(rows: list[int]) -> str:
    return "are" if len(rows) > 1 else "is"
