"""Quick start: what a bidirectional LSTM returns, named.

Run with `make example`, or `python examples/quickstart.py` inside the virtualenv.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import bilstm_hooks as bh


class Classifier(nn.Module):
    """A packed, bidirectional, batch-first LSTM encoder and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * 4, 2)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(tokens, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.encoder(packed)
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))


def section(title: str) -> None:
    print(f"\n── {title}")


def main() -> None:
    torch.manual_seed(0)
    model = Classifier()
    tokens = torch.randn(3, 6, 3)  # batch=3, token=6 (padded), feature=3
    lengths = torch.tensor([4, 6, 2])  # unsorted, unequal

    with bh.attach_hooks(model) as rec:  # hooks are removed on exit; records stay
        model(tokens, lengths)

    section("the recorder: every hooked recurrent layer")
    print(rec)
    section('rec["encoder"]: the latest call of model.encoder')
    enc = rec["encoder"]
    print(enc)

    section("out: the last layer at every token, forward then backward")
    print("enc.out           ", enc.out)
    forward, backward = enc.out.split_directions()
    print("split_directions()", forward, backward, sep="\n  ")
    per_layer = enc.h_n.rearrange("layer direction batch hidden")
    print('h_n.rearrange("layer direction batch hidden").shape =', tuple(per_layer.shape))

    section("the sequence representation: enc.final(), not out[:, -1]")
    right = enc.final()  # cat(h_n[-2], h_n[-1]): right for every packed sequence
    wrong = enc.out.tensor[:, -1]  # padding for short rows; backward half saw one token
    for row, length in enumerate(lengths.tolist()):
        gap = (right[row] - wrong[row]).abs().view(2, 4).amax(dim=-1).tolist()
        print(
            f"  row {row}, length {length}: |final() - out[:, -1]| <= {gap[0]:.3f} forward, "
            f"{gap[1]:.3f} backward"
        )
    # the same, read from out at each sequence's real ends:
    assert torch.equal(right, bh.last_outputs(enc.out.tensor, enc.lengths, module=model.encoder))
    enc.check()  # raises bh.LayoutError if an identity fails
    print("  enc.check() passed: out and h_n agree at each sequence's real ends")

    section("the tensors a hooked layer returns carry their annotation")
    with bh.attach_hooks(model):  # e.g. inside forward, where a debugger stops
        packed = pack_padded_sequence(tokens, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, c_n) = model.encoder(packed)
    print("bh.annotation_of(h_n) =", bh.annotation_of(h_n))
    print("bh.describe(out)      =", bh.describe(out))
    print("bh.describe(c_n)      =", bh.describe(c_n))


if __name__ == "__main__":
    main()
