"""`bilstm-hooks demo`: what a bidirectional nn.LSTM returns, checked live on the seed model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._display.unrolled_text import unrolled_text
from .._helpers.last_outputs import last_outputs
from .._recording.recorder import attach_hooks
from .demo_summary import summary_section
from .style import Style

if TYPE_CHECKING:
    from .._recording.record import Record

__all__ = ["demo"]


def _seed_model() -> nn.LSTM:
    """The seed model of the design, seeded: 3 features, hidden 4, 2 layers, both ways."""
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest |difference| of two tensors, for the identities the demo proves."""
    return float((a - b).abs().max())


def _check(s: Style, holds: bool, text: str) -> str:
    """One checked identity: a tick where it holds, a cross where not."""
    return f"  {s.ok() if holds else s.bad()} {text}"


def demo(style: Style) -> str:
    """The walk-through, as text."""
    lstm = _seed_model()
    x = torch.randn(1, 6, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), attach_hooks(lstm) as rec:
        out, (h_n, c_n) = lstm(x)
    first = rec[lstm]
    lines = _opening(style)
    lines += _out_section(style, out, first)
    lines += _states_section(style, h_n, c_n, first)
    lines += _identities_section(style, out, h_n, first)
    lengths = torch.tensor([4, 6, 2])
    padded = _padded_batch(lengths)
    lines += _packed_section(style, lstm, padded, lengths)
    lines += summary_section(style, lstm, padded, lengths)
    lines += _unrolled_section(style, first)
    lines += _next_steps(style)
    return "\n".join(style.plain(line) if not style.unicode else line for line in lines)


def _opening(s: Style) -> list[str]:
    """The title, and the call the first sections read."""
    return [
        s.heading("bilstm-hooks demo: what a bidirectional nn.LSTM returns, with named dims"),
        "",
        s.code("  lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)"),
        s.code("  x = torch.randn(1, 6, 3)") + s.dim("      # batch=1 token=6 feature=3"),
        s.code("  out, (h_n, c_n) = lstm(x)"),
        "",
    ]


def _out_section(s: Style, out: torch.Tensor, r: Record) -> list[str]:
    """Section 1: `out`, and its two halves."""
    fwd = r.out.split_directions()[0]
    return [
        s.heading("1. out: the last layer's output at every token"),
        f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}",
        "  The last axis is (direction hidden): forward, then backward.",
        f"    {s.code('out[..., :4]')}  forward:  token t has read tokens 0..t",
        f"    {s.code('out[..., 4:]')}  backward: token t has read tokens t..5",
        f"    {s.code('fwd, bwd = rec[lstm].out.split_directions()')}  {s.dim(f'# {fwd!r}')}",
        "",
    ]


def _states_section(s: Style, h_n: torch.Tensor, c_n: torch.Tensor, r: Record) -> list[str]:
    """Section 2: `h_n` and `c_n`, and what each row of them holds."""
    lines = [
        s.heading("2. h_n and c_n: every layer's state after its last step"),
        f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} {r.h_n.axes.described()}",
    ]
    assert r.c_n is not None
    lines += [
        f"  c_n  {tuple(c_n.shape)}  {r.c_n.pattern:<31} {r.c_n.axes.described()}",
        "  batch_first=True does not apply to h_n and c_n: batch is their second axis.",
        "  Rows are layer-major, direction-minor:",
    ]
    last = r.layout.layers - 1
    for row in range(h_n.shape[0]):
        layer, d = divmod(row, 2)
        where = "token 5 (the last)" if d == 0 else "token 0 (where it ends)"
        same = ""
        if layer == last:
            same = "== out[:, -1, :4]" if d == 0 else "== out[:, 0, 4:]"
        direction = "forward " if d == 0 else "backward"
        lines.append(
            f"    h_n[{row}]  layer {layer} {direction}  at {where:<24}{s.dim(same)}".rstrip()
        )
    lines += [f"  {s.code('h_n[-1]')} alone is the BACKWARD direction of the last layer only.", ""]
    return lines


def _identities_section(s: Style, out: torch.Tensor, h_n: torch.Tensor, r: Record) -> list[str]:
    """Section 3: the identities between `out`, `h_n` and the final state, checked."""
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    lines = [
        s.heading("3. The identities, checked on these tensors"),
        _check(
            s,
            torch.allclose(out[:, -1, :4], h_n[-2]),
            "out[:, -1, :4] == h_n[-2]   forward half at the last token",
        ),
        _check(
            s,
            torch.allclose(out[:, 0, 4:], h_n[-1]),
            "out[:, 0, 4:]  == h_n[-1]   backward half at token 0",
        ),
        _check(
            s,
            torch.allclose(r.final(), final),
            "rec[lstm].final() == torch.cat([h_n[-2], h_n[-1]], dim=-1)",
        ),
    ]
    r.check()
    lines.append(_check(s, True, "rec[lstm].check(): every identity holds"))
    wrong = _diff(out[:, -1], final)
    lines += [
        f"  {s.bad()} out[:, -1] != the final state: its backward half has read one token "
        f"(max |difference| {wrong:.2f})",
        "",
    ]
    return lines


def _padded_batch(lengths: torch.Tensor) -> torch.Tensor:
    """The batch of sections 4 and 5: `(3, 6, 3)`, zero past each sequence's length."""
    xb = torch.randn(3, 6, 3, generator=torch.Generator().manual_seed(2))
    for b, n in enumerate(lengths.tolist()):
        xb[b, n:] = 0.0
    return xb


def _packed_section(s: Style, lstm: nn.LSTM, xb: torch.Tensor, lengths: torch.Tensor) -> list[str]:
    """Section 4: the padded batch packed and run, its right and wrong final states."""
    packed_in = pack_padded_sequence(xb, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad(), attach_hooks(lstm) as rec:
        packed_out, (h_n, _) = lstm(packed_in)
    r = rec[lstm]
    out, _ = pad_packed_sequence(packed_out, batch_first=True)
    lines = [
        s.heading("4. A padded batch packed with unequal lengths"),
        s.code("  lengths = torch.tensor([4, 6, 2])") + s.dim("   # x: (3, 6, 3), zero-padded"),
        s.code(
            "  packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)"
        ),
        s.code("  out, (h_n, c_n) = lstm(packed)"),
        s.code("  out, _ = pad_packed_sequence(out, batch_first=True)"),
        f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}, padded",
        f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} in the original batch order",
        "  Each sequence's last valid token is lengths[b] - 1 = " + str((lengths - 1).tolist()),
        "",
    ]
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    lines += _right_final_state(s, lstm, r, out, h_n, final, lengths)
    lines += _wrong_final_state(s, out, final, lengths)
    return lines


def _right_final_state(
    s: Style,
    lstm: nn.LSTM,
    r: Record,
    out: torch.Tensor,
    h_n: torch.Tensor,
    final: torch.Tensor,
    lengths: torch.Tensor,
) -> list[str]:
    """Section 4, its right final state: each half where its direction ends, checked."""
    lines = [
        "  The right final state: "
        + s.code("torch.cat([h_n[-2], h_n[-1]], dim=-1)")
        + ", or rec[lstm].final()"
    ]
    for b, n in enumerate(lengths.tolist()):
        fwd_ok = torch.allclose(out[b, n - 1, :4], h_n[-2, b])
        bwd_ok = torch.allclose(out[b, 0, 4:], h_n[-1, b])
        lines.append(
            f"    sequence {b} (length {n}):  "
            f"{s.ok() if fwd_ok else s.bad()} forward  == out[{b}, {n - 1}, :4]   "
            f"{s.ok() if bwd_ok else s.bad()} backward == out[{b}, 0, 4:]"
        )
    lines.append(
        _check(s, torch.allclose(r.final(), final), "rec[lstm].final() gives it for every sequence")
    )
    from_out = last_outputs(out, lengths, module=lstm)
    lines.append(
        _check(
            s,
            torch.allclose(from_out, final),
            "bh.last_outputs(out, lengths, module=lstm): the same, from out",
        )
    )
    r.check()
    lines += [_check(s, True, "rec[lstm].check(): every identity holds, per sequence"), ""]
    return lines


def _wrong_final_state(
    s: Style, out: torch.Tensor, final: torch.Tensor, lengths: torch.Tensor
) -> list[str]:
    """Section 4, its wrong final state: `out[:, -1]`, and why each sequence's is wrong."""
    lines = ["  The wrong final state: " + s.code("out[:, -1]")]
    for b, n in enumerate(lengths.tolist()):
        if n < out.shape[1]:
            zero = bool((out[b, -1] == 0).all())
            why = "padding, all zeros" if zero else "padding"
        else:
            why = "its backward half has read one token"
        lines.append(
            f"    sequence {b} (length {n}):  {s.bad()} {why:<37} "
            f"max |difference| {_diff(out[b, -1], final[b]):.2f}"
        )
    lines.append("")
    return lines


def _unrolled_section(s: Style, first: Record) -> list[str]:
    """Section 6: the first call replayed, every layer's state at every token."""
    lines = [
        s.heading("6. Inside the layers: the first call replayed, every layer at every token"),
        s.code("  u = rec[lstm].unroll()") + s.dim("   # the layer's own weights, its h_0 and c_0"),
    ]
    lines += [f"  {line}" if line else "" for line in unrolled_text(first).splitlines()]
    lines.append("")
    return lines


def _next_steps(s: Style) -> list[str]:
    """The closing lines: where to go from here."""
    return [
        s.heading("Next"),
        "  In Jupyter, rec[lstm] shows these tables and a diagram of the unrolled layers;",
        "  " + s.code("u.plot()") + " draws every layer's states (pip install bilstm-hooks[plot]).",
        "  " + s.code('rec[lstm].diagram().save("lstm.svg")') + " saves the diagram.",
        "  "
        + s.code("bilstm-hooks summary PACKAGE.MODULE:FACTORY --input-size 1,6,3")
        + " annotates your model.",
    ]
