"""`bilstm-hooks demo`: what a bidirectional nn.LSTM returns, checked live on the seed model."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._display.summary import summary
from .._display.unrolled_text import unrolled_text
from .._helpers.outputs import last_outputs
from .._recording.recorder import attach_hooks
from .style import Style

__all__ = ["demo"]


class Encoder(nn.Module):
    """The demo's model: packs a padded batch inside `forward`, as real models do."""

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)


_ENCODER_SOURCE = (
    "class Encoder(nn.Module):",
    "    def __init__(self, lstm):",
    "        super().__init__()",
    "        self.lstm = lstm",
    "",
    "    def forward(self, x, lengths):",
    "        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
    "        _, (h_n, _) = self.lstm(packed)",
    "        return torch.cat([h_n[-2], h_n[-1]], dim=-1)",
)


def _seed_model() -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def demo(style: Style) -> str:
    """The walk-through, as text."""
    s = style
    lines: list[str] = []
    add = lines.append

    def check(holds: bool, text: str) -> None:
        add(f"  {s.ok() if holds else s.bad()} {text}")

    lstm = _seed_model()
    x = torch.randn(1, 6, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), attach_hooks(lstm) as rec:
        out, (h_n, c_n) = lstm(x)
    r = first = rec[lstm]
    add(s.heading("bilstm-hooks demo: what a bidirectional nn.LSTM returns, with named dims"))
    add("")
    add(s.code("  lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)"))
    add(s.code("  x = torch.randn(1, 6, 3)") + s.dim("      # batch=1 token=6 feature=3"))
    add(s.code("  out, (h_n, c_n) = lstm(x)"))
    add("")

    add(s.heading("1. out: the last layer's output at every token"))
    add(f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}")
    add("  The last axis is (direction hidden): forward, then backward.")
    add(f"    {s.code('out[..., :4]')}  forward:  token t has read tokens 0..t")
    add(f"    {s.code('out[..., 4:]')}  backward: token t has read tokens t..5")
    fwd = r.out.split_directions()[0]
    add(f"    {s.code('fwd, bwd = rec[lstm].out.split_directions()')}  {s.dim(f'# {fwd!r}')}")
    add("")

    add(s.heading("2. h_n and c_n: every layer's state after its last step"))
    add(f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} {r.h_n.axes.described()}")
    assert r.c_n is not None
    add(f"  c_n  {tuple(c_n.shape)}  {r.c_n.pattern:<31} {r.c_n.axes.described()}")
    add("  batch_first=True does not apply to h_n and c_n: batch is their second axis.")
    add("  Rows are layer-major, direction-minor:")
    last = r.layout.layers - 1
    for row in range(h_n.shape[0]):
        layer, d = divmod(row, 2)
        where = "token 5 (the last)" if d == 0 else "token 0 (where it ends)"
        same = ""
        if layer == last:
            same = "== out[:, -1, :4]" if d == 0 else "== out[:, 0, 4:]"
        direction = "forward " if d == 0 else "backward"
        add(f"    h_n[{row}]  layer {layer} {direction}  at {where:<24}{s.dim(same)}".rstrip())
    add(f"  {s.code('h_n[-1]')} alone is the BACKWARD direction of the last layer only.")
    add("")

    add(s.heading("3. The identities, checked on these tensors"))
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    check(
        torch.allclose(out[:, -1, :4], h_n[-2]),
        "out[:, -1, :4] == h_n[-2]   forward half at the last token",
    )
    check(
        torch.allclose(out[:, 0, 4:], h_n[-1]),
        "out[:, 0, 4:]  == h_n[-1]   backward half at token 0",
    )
    check(
        torch.allclose(r.final(), final),
        "rec[lstm].final() == torch.cat([h_n[-2], h_n[-1]], dim=-1)",
    )
    r.check()
    check(True, "rec[lstm].check(): every identity holds")
    wrong = _diff(out[:, -1], final)
    add(
        f"  {s.bad()} out[:, -1] != the final state: its backward half has read one token "
        f"(max |difference| {wrong:.2f})"
    )
    add("")

    lengths = torch.tensor([4, 6, 2])
    xb = torch.randn(3, 6, 3, generator=torch.Generator().manual_seed(2))
    for b, n in enumerate(lengths.tolist()):
        xb[b, n:] = 0.0
    packed_in = pack_padded_sequence(xb, lengths, batch_first=True, enforce_sorted=False)
    with torch.no_grad(), attach_hooks(lstm) as rec:
        packed_out, (h_n, c_n) = lstm(packed_in)
    r = rec[lstm]
    out, _ = pad_packed_sequence(packed_out, batch_first=True)
    add(s.heading("4. A padded batch packed with unequal lengths"))
    add(s.code("  lengths = torch.tensor([4, 6, 2])") + s.dim("   # x: (3, 6, 3), zero-padded"))
    add(
        s.code(
            "  packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)"
        )
    )
    add(s.code("  out, (h_n, c_n) = lstm(packed)"))
    add(s.code("  out, _ = pad_packed_sequence(out, batch_first=True)"))
    add(f"  out  {tuple(out.shape)}  {r.out.pattern:<31} {r.out.axes.described()}, padded")
    add(f"  h_n  {tuple(h_n.shape)}  {r.h_n.pattern:<31} in the original batch order")
    add("  Each sequence's last valid token is lengths[b] - 1 = " + str((lengths - 1).tolist()))
    add("")
    add(
        "  The right final state: "
        + s.code("torch.cat([h_n[-2], h_n[-1]], dim=-1)")
        + ", or rec[lstm].final()"
    )
    final = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    for b, n in enumerate(lengths.tolist()):
        fwd_ok = torch.allclose(out[b, n - 1, :4], h_n[-2, b])
        bwd_ok = torch.allclose(out[b, 0, 4:], h_n[-1, b])
        add(
            f"    sequence {b} (length {n}):  "
            f"{s.ok() if fwd_ok else s.bad()} forward  == out[{b}, {n - 1}, :4]   "
            f"{s.ok() if bwd_ok else s.bad()} backward == out[{b}, 0, 4:]"
        )
    check(torch.allclose(r.final(), final), "rec[lstm].final() gives it for every sequence")
    from_out = last_outputs(out, lengths, module=lstm)
    check(
        torch.allclose(from_out, final),
        "bh.last_outputs(out, lengths, module=lstm): the same, from out",
    )
    r.check()
    check(True, "rec[lstm].check(): every identity holds, per sequence")
    add("")
    add("  The wrong final state: " + s.code("out[:, -1]"))
    for b, n in enumerate(lengths.tolist()):
        if n < out.shape[1]:
            zero = bool((out[b, -1] == 0).all())
            why = "padding, all zeros" if zero else "padding"
        else:
            why = "its backward half has read one token"
        add(
            f"    sequence {b} (length {n}):  {s.bad()} {why:<37} "
            f"max |difference| {_diff(out[b, -1], final[b]):.2f}"
        )
    add("")

    add(s.heading("5. The summary: torchinfo's table plus out, h_n and c_n"))
    add("  A model that packs inside forward, as real ones do:")
    for line in _ENCODER_SOURCE:
        add(s.code(f"    {line}") if line else "")
    add(
        s.code(
            "  print(bh.summary(Encoder(lstm), input_data=(x, lengths), col_names=['output_size']))"
        )
    )
    rows = () if s.unicode else ("depth", "ascii_only")
    table = summary(
        Encoder(lstm),
        input_data=(xb, lengths),
        col_names=["output_size"],
        col_width=14,
        **({"row_settings": rows} if rows else {}),
    )
    lines += str(table).splitlines()
    add("")

    add(s.heading("6. Inside the layers: the first call replayed, every layer at every token"))
    add(s.code("  u = rec[lstm].unroll()") + s.dim("   # the layer's own weights, its h_0 and c_0"))
    lines += [f"  {line}" if line else "" for line in unrolled_text(first).splitlines()]
    add("")
    add(s.heading("Next"))
    add("  In Jupyter, rec[lstm] shows these tables and a diagram of the unrolled layers;")
    add("  " + s.code("u.plot()") + " draws every layer's states (pip install bilstm-hooks[plot]).")
    add("  " + s.code('rec[lstm].diagram().save("lstm.svg")') + " saves the diagram.")
    add(
        "  "
        + s.code("bilstm-hooks summary PACKAGE.MODULE:FACTORY --input-size 1,6,3")
        + " annotates your model."
    )
    return "\n".join(s.plain(line) if not s.unicode else line for line in lines)
