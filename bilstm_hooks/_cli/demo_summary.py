"""The demo's section 5: a model that packs inside `forward`, and its `bh.summary`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .._display.summary import summary

if TYPE_CHECKING:
    from .style import Style

__all__ = ["Encoder", "summary_section"]


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


def summary_section(s: Style, lstm: nn.LSTM, xb: torch.Tensor, lengths: torch.Tensor) -> list[str]:
    """Section 5: `bh.summary` of a model that packs inside `forward`."""
    lines = [
        s.heading("5. The summary: torchinfo's table plus out, h_n and c_n"),
        "  A model that packs inside forward, as real ones do:",
    ]
    lines += [s.code(f"    {line}") if line else "" for line in _ENCODER_SOURCE]
    lines.append(
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
    lines.append("")
    return lines
