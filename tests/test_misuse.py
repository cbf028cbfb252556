"""The classic layout bugs warn at the user's line; their correct forms are silent.

Each pattern below is code from public repositories, run while following names,
across the layout matrix (LSTM, projected LSTM, GRU, RNN; 1-3 layers; uni- and
bidirectional; batch_first or not; batched, unbatched, packed sorted and unsorted)
and across drawn sizes (batches and sequences of one, hidden sizes of one). Whether
a pattern is a bug for one call is decided by its values, against a correct form
computed without following: it must warn (`bh.LayoutWarning`, filed at the pattern's
own line in this file) exactly when its values are wrong.

Three patterns are left out where their call is the same as a right one: `out.view(b,
t, hidden, 2)` with hidden == 2 is `out.view(b, t, 2, hidden)`; `h_n.view(batch, hidden
* layers * directions)` with hidden == 1 and batch == layers * directions is
`h_n.view(layers * directions, batch)`, rows of layers, which its names then say;
`h_n.view(-1, 2 * hidden, 1)` with hidden == 1 and batch == 2 is h_n's own shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import einops
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._follow import rules as _rules


@dataclass
class Held:
    """What a user holds after one call: `out` (padded when packed), `h_n`, sizes."""

    cfg: Any
    layer: nn.Module
    raw: torch.Tensor | PackedSequence  # out as the layer returned it
    out: torch.Tensor
    h_n: torch.Tensor
    lengths: torch.Tensor | None
    head: nn.Module

    @property
    def bf(self) -> bool:
        return bool(self.cfg.batch_first and self.cfg.batched)

    @property
    def B(self) -> int:
        return int(self.cfg.batch)

    @property
    def H(self) -> int:
        return int(self.cfg.h_out)

    @property
    def L(self) -> int:
        return int(self.cfg.layers)

    @property
    def D(self) -> int:
        return int(self.cfg.directions)

    @property
    def last(self) -> torch.Tensor:
        """The index of each sequence's last valid token."""
        if self.lengths is None:
            return torch.full((self.B,), self.out.shape[1 if self.bf else 0] - 1)
        return self.lengths - 1

    def final(self) -> torch.Tensor:
        return bh.final_representation(self.h_n, module=self.layer)


def hold(case: Any) -> Held:
    cfg = case.cfg
    lengths = None
    out = case.out
    if cfg.packed:
        with bh.follow():
            out, lengths = pad_packed_sequence(case.out, batch_first=cfg.batch_first)
    width = cfg.directions * cfg.h_out
    head = nn.Linear(width, width, bias=False).to(cfg.dtype).requires_grad_(False)
    head.weight.copy_(torch.eye(width))  # so that fc(x) is x, exactly
    return Held(cfg, case.layer, case.out, out, case.h_n, lengths, head)


# -- the patterns: (applies, the user's code, its correct form) ---------------------------------
@dataclass(frozen=True)
class Pattern:
    applies: Callable[[Held], bool]
    code: Callable[[Held], torch.Tensor]
    right: Callable[[Held], torch.Tensor]
    exact: bool = True  # indexing only: right means equal; else close (a mean)


def _unfused_last_layer(h: Held) -> torch.Tensor:
    return einops.rearrange(h.h_n, "(l d) ... x -> (l ...) (d x) ()", d=h.D)


PATTERNS: dict[str, Pattern] = {
    # bugs (warn whenever the values are wrong)
    "final_state.view(-1, 2 * H, 1)": Pattern(
        lambda h: h.D == 2 and not (h.H == 1 and h.B == 2),
        lambda h: h.h_n.view(-1, 2 * h.H, 1),
        _unfused_last_layer,
    ),
    "hidden.view(batch, hidden * layers * directions)": Pattern(
        lambda h: h.cfg.batched and not (h.H == 1 and h.B == h.L * h.D),
        lambda h: h.h_n.view(h.B, h.H * h.L * h.D),
        lambda h: einops.rearrange(h.h_n, "ld b x -> b (ld x)"),
    ),
    "combine_bidir: cat(dim=0).view(1, batch, 2H)": Pattern(
        lambda h: h.D == 2 and h.cfg.batched,
        lambda h: torch.cat(
            [
                torch.cat([h.h_n[2 * i], h.h_n[2 * i + 1]], dim=0).view(1, h.B, 2 * h.H)
                for i in range(h.L)
            ]
        ),
        lambda h: einops.rearrange(h.h_n, "(l d) b x -> l b (d x)", d=2),
    ),
    "fc(out[:, -1, :]) / fc(out[-1])": Pattern(
        lambda h: True,
        lambda h: h.head(h.out[:, -1, :]) if h.bf else h.head(h.out[-1]),
        lambda h: h.head(bh.last_outputs(h.out, h.lengths, module=h.layer, batch_first=h.bf)),
    ),
    "out.mean(1) / out.mean(0)": Pattern(
        lambda h: True,
        lambda h: h.out.mean(1) if h.bf else h.out.mean(0),
        lambda h: _masked_mean(h),
        exact=False,
    ),
    "out.view(b, t, hidden, 2)": Pattern(
        lambda h: h.D == 2 and h.H != 2,
        lambda h: h.out.reshape(*h.out.shape[:-1], h.H, 2),
        lambda h: h.out.reshape(*h.out.shape[:-1], 2, h.H).transpose(-1, -2),
    ),
    # correct forms (silent whenever the values are right)
    "cat([h_n[-2], h_n[-1]], -1)": Pattern(
        lambda h: h.D == 2,
        lambda h: torch.cat([h.h_n[-2], h.h_n[-1]], -1),
        lambda h: h.final(),
    ),
    "h_n.view(L, 2, B, H).transpose(1, 2).reshape(L, B, 2 * H)": Pattern(
        lambda h: h.D == 2 and h.cfg.batched,
        lambda h: h.h_n.view(h.L, 2, h.B, h.H).transpose(1, 2).reshape(h.L, h.B, 2 * h.H),
        lambda h: einops.rearrange(h.h_n, "(l d) b x -> l b (d x)", d=2),
    ),
    "h_n.transpose(0, 1).reshape(B, -1)": Pattern(
        lambda h: h.cfg.batched,
        lambda h: h.h_n.transpose(0, 1).reshape(h.B, -1),
        lambda h: einops.rearrange(h.h_n, "ld b x -> b (ld x)"),
    ),
    "out[:, -1, :H] and out[:, 0, H:]": Pattern(
        lambda h: h.D == 2,
        lambda h: (
            torch.cat([h.out[:, -1, : h.H], h.out[:, 0, h.H :]], -1)
            if h.bf
            else torch.cat([h.out[-1, ..., : h.H], h.out[0, ..., h.H :]], -1)
        ),
        lambda h: bh.last_outputs(h.out, h.lengths, module=h.layer, batch_first=h.bf),
    ),
    "out[:, -1] of a unidirectional layer": Pattern(
        lambda h: h.D == 1,
        lambda h: h.out[:, -1] if h.bf else h.out[-1],
        lambda h: h.final(),
    ),
    "out gathered at lengths - 1, the forward half": Pattern(
        lambda h: h.cfg.batched,
        lambda h: (
            h.out[torch.arange(h.B), h.last, : h.H]
            if h.bf
            else h.out[h.last, torch.arange(h.B), : h.H]
        ),
        lambda h: h.final()[..., : h.H],
    ),
    "bh.final_representation": Pattern(
        lambda h: True,
        lambda h: bh.final_representation(h.h_n, module=h.layer),
        lambda h: einops.rearrange(h.h_n, "(l d) ... x -> l ... (d x)", d=h.D)[-1],
    ),
    "bh.last_outputs": Pattern(
        lambda h: True,
        lambda h: bh.last_outputs(h.raw, module=h.layer),
        lambda h: h.final(),
    ),
    "bh.last_outputs of the padded out": Pattern(
        lambda h: True,
        lambda h: bh.last_outputs(h.out, h.lengths, module=h.layer, batch_first=h.bf),
        lambda h: h.final(),
    ),
    "h_n[-1] (a note, not a warning)": Pattern(
        lambda h: True,
        lambda h: h.h_n[-1],
        lambda h: h.h_n[-1],
    ),
    "h_n[0] (a note, not a warning)": Pattern(
        lambda h: True,
        lambda h: h.h_n[0],
        lambda h: h.h_n[0],
    ),
}


def _masked_mean(h: Held) -> torch.Tensor:
    out = h.out if h.bf or not h.cfg.batched else h.out.transpose(0, 1)
    if h.lengths is None:
        return out.mean(-2)
    mask = torch.arange(out.shape[1])[None, :] < h.lengths[:, None]
    return (out * mask[..., None]).sum(1) / h.lengths[:, None].to(out.dtype)


def is_wrong(result: torch.Tensor, right: torch.Tensor, *, exact: bool) -> bool:
    if result.shape != right.shape:
        return True
    if exact:
        return not torch.equal(result, right)
    rtol, atol = (2e-2, 1e-3) if result.dtype == torch.bfloat16 else (1e-5, 1e-6)
    return not torch.allclose(result.double(), right.double(), rtol=rtol, atol=atol)


def layout_warnings(
    pattern: Pattern, held: Held
) -> tuple[torch.Tensor, list[warnings.WarningMessage]]:
    """The pattern's result, run while following, and the LayoutWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught, bh.follow():
        warnings.simplefilter("always")
        result = pattern.code(held)
    ours = [w for w in caught if issubclass(w.category, bh.LayoutWarning)]
    others = [w for w in caught if w not in ours]
    assert not others, [str(w.message) for w in others]
    return result, ours


def check(name: str, held: Held) -> str | None:
    """None if `name` warns exactly when wrong, at its own line; else what went amiss."""
    pattern = PATTERNS[name]
    if not pattern.applies(held):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", bh.LayoutWarning)
        right = pattern.right(held)
    result, caught = layout_warnings(pattern, held)
    wrong = is_wrong(result, right, exact=pattern.exact)
    where = f"{held.cfg.id} {name}"
    if wrong and not caught:
        return f"{where}: wrong values, no warning"
    if caught and not wrong:
        return f"{where}: right values, but {caught[0].message}"
    lines = lines_of(pattern.code)
    for w in caught:
        if w.filename != __file__ or w.lineno not in lines:
            return f"{where}: warned at {w.filename}:{w.lineno}, not at the pattern's {lines}"
    return None


def lines_of(code: Callable[..., Any]) -> set[int]:
    """The lines of this file that `code` (a lambda) spans, its comprehensions included."""
    found: set[int] = set()
    codes = [code.__code__]
    while codes:
        current = codes.pop()
        found |= {line for *_, line in current.co_lines() if line is not None}
        codes += [c for c in current.co_consts if hasattr(c, "co_lines")]
    return found


def check_all(held: Held) -> list[str]:
    return [problem for name in PATTERNS if (problem := check(name, held)) is not None]


# -- across the matrix, and across drawn sizes ------------------------------------------------
def test_every_bug_warns_at_its_line_and_every_correct_form_is_silent(
    layout_matrix: list[Any], run: Any
) -> None:
    """Each call held only while it is checked: the registry never holds the matrix."""
    problems: list[str] = []
    warned: set[str] = set()
    for cfg in layout_matrix:
        if cfg.train:
            continue
        held = hold(run(cfg))
        problems += check_all(held)
        for name in list(PATTERNS)[:6]:  # the bugs
            pattern = PATTERNS[name]
            if name not in warned and pattern.applies(held) and layout_warnings(pattern, held)[1]:
                warned.add(name)
    assert not problems, "\n".join(problems[:20])
    assert warned == set(list(PATTERNS)[:6])  # the oracle is not vacuous: each bug is met


@settings(max_examples=100)
@given(data=st.data())
def test_drawn_sizes(data: st.DataObject, config_strategy: Any, run: Any) -> None:
    """Batches, sequences and hidden sizes of one included. Not ReLU RNNs: with few units
    their zeros often make a wrong read right by chance (both halves 0)."""
    cfg = data.draw(config_strategy.filter(lambda c: c.kind != "RNN_RELU"), label="config")
    problems = check_all(hold(run(cfg)))
    assert not problems, "\n".join(problems)


# -- the messages, notes, and the bugs one by one ------------------------------------------------
@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            lambda out, h_n: h_n.view(-1, 8, 1),
            r"^encoder\.h_n \(\(layer=2 direction=2\) batch=3 hidden=4\) viewed as \(6, 8, 1\) "
            r"mixes batch with \(layer direction\): each row now holds parts of several "
            r"sequences\. Use h_n\.transpose\(0, 1\)\.reshape\(batch, -1\), or "
            r"bh\.final_representation\(h_n, module=\.\.\.\)$",
        ),
        (
            lambda out, h_n: nn.functional.linear(out[:, -1], torch.ones(2, 8)),
            r"^encoder\.out \(batch=3 token=6 \(direction=2 hidden=4\)\) at its last token, "
            r"both halves, used here: the backward half there has read one token",
        ),
        (
            lambda out, h_n: out.reshape(3, 6, 4, 2),
            r"splits \(direction hidden\) the wrong way round: the last axis holds the forward "
            r"half, then the backward half\. View it as \(\.\.\., 2, 4\), or use "
            r"bh\.split_directions$",
        ),
        (
            lambda out, h_n: torch.cat([h_n[2], h_n[3]], 0),
            r"^directions of encoder\.h_n joined along the batch axis: rows of different "
            r"directions now sit where sequences should\. Join them on the last axis: "
            r"torch\.cat\(\[h_n\[-2\], h_n\[-1\]\], -1\)$",
        ),
        (
            lambda out, h_n: out.transpose(0, 1).reshape(3, -1),
            r"^encoder\.out \(token=6 batch=3 \(direction=2 hidden=4\)\) viewed as \(3, 48\) "
            r"mixes batch with token: each row now holds parts of several sequences\. Is it "
            r"time-major\? Take out\.transpose\(0, 1\) first$",
        ),
    ],
    ids=["h_n.view", "out[:, -1]", "wrong split", "cat along batch", "time-major as batch-first"],
)
def test_the_message_says_what_happened_and_the_fix(encoder: Any, code: Any, message: str) -> None:
    out, h_n = encoder
    with bh.follow(), pytest.warns(bh.LayoutWarning, match=message) as caught:
        code(out, h_n)
    assert {w.filename for w in caught} == {__file__}
    assert {w.lineno for w in caught} <= lines_of(code)


def test_padding_rows_are_named() -> None:
    lstm = nn.GRU(3, 4, batch_first=True)
    bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(3, 6, 3)
    packed = nn.utils.rnn.pack_padded_sequence(x, [4, 6, 2], batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    with bh.follow():
        padded, _ = pad_packed_sequence(out, batch_first=True)
        with pytest.warns(
            bh.LayoutWarning,
            match=r"^encoder\.out, padded \(batch=3 token=6 \(direction=1 hidden=4\)\) at token "
            r"5: batch rows 0, 2 are padding there \(lengths \[4, 6, 2\]\)\. Take each "
            r"sequence's last valid token \(lengths - 1\) with "
            r"bh\.last_outputs\(out, lengths, module=\.\.\.\)$",
        ):
            padded[:, -1]
        with pytest.warns(bh.LayoutWarning, match=r"^mean over token of encoder\.out, padded"):
            padded.mean(1)


def test_notes_are_not_warnings(encoder: Any) -> None:
    _, h_n = encoder
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("error")
        backward, first = h_n[-1], h_n[0]
    assert bh.annotation_of(backward).notes == ("backward direction only",)  # type: ignore[union-attr]
    assert bh.annotation_of(first).notes == ("forward direction only", "first layer")  # type: ignore[union-attr]


def test_helpers_are_silent_inside_a_followed_forward() -> None:
    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
            packed = nn.utils.rnn.pack_padded_sequence(
                x, lengths, batch_first=True, enforce_sorted=False
            )
            out, (h_n, _) = self.encoder(packed)
            padded, lens = pad_packed_sequence(out, batch_first=True)
            a = bh.final_representation(h_n, module=self.encoder)
            b = bh.last_outputs(out, module=self.encoder)
            c = bh.last_outputs(padded, lens, module=self.encoder)
            d, _ = bh.split_directions(padded, module=self.encoder)
            e = bh.split_layers(h_n, module=self.encoder)
            return a + b + c + d.sum() + e[-1, 0].sum()

    model = Classifier()
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(torch.randn(3, 6, 3), [4, 6, 2])


# -- -W error, and rules that fail ----------------------------------------------------------------
def test_under_w_error_the_warning_raises_at_the_users_line(encoder: Any) -> None:
    out, _ = encoder
    with warnings.catch_warnings(), bh.follow():
        warnings.simplefilter("error", bh.LayoutWarning)
        with pytest.raises(bh.LayoutWarning, match="at its last token") as raised:
            nn.functional.linear(out[:, -1], torch.ones(2, 8))  # the user's line
    line = test_under_w_error_the_warning_raises_at_the_users_line.__code__.co_firstlineno + 5
    ours = [entry for entry in raised.traceback if str(entry.path) == __file__]
    assert ours[-1].lineno + 1 == line
    assert torch._C._len_torch_function_stack() == 0


def test_under_w_error_a_forward_that_raises_leaves_the_mode_off() -> None:
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.GRU(3, 4, bidirectional=True, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.encoder(x)
            return out[:, -1]

    model = Bad()
    bh.attach_hooks(model, follow=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bh.LayoutWarning)
        with pytest.raises(bh.LayoutWarning):
            model(torch.randn(2, 5, 3))
    assert torch._C._len_torch_function_stack() == 0


def test_a_rule_that_fails_never_breaks_the_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug in a rule")

    for func, rule in list(_rules.RULES.items()):
        if rule.__name__ in ("cat_rule", "view_rule", "same_rule", "linear_rule", "pad_rule"):
            monkeypatch.setitem(_rules.RULES, func, broken)
    import bilstm_hooks._follow.inplace as inplace_module
    import bilstm_hooks._follow.mode as follow_module

    monkeypatch.setattr(inplace_module, "before", broken)

    monkeypatch.setattr(follow_module, "before", broken)

    torch.manual_seed(0)
    model = nn.ModuleDict({"encoder": nn.LSTM(3, 4, bidirectional=True, batch_first=True)})
    x = torch.randn(2, 5, 3)

    def forward(x: torch.Tensor) -> torch.Tensor:
        out, (h_n, _) = model["encoder"](x)
        y = torch.relu(out).view(2, 5, 2, 4)
        return torch.cat([h_n[-2], h_n[-1]], -1) + y.sum()

    expected = forward(x)
    with bh.follow():
        assert torch.equal(forward(x), expected)
    assert torch._C._len_torch_function_stack() == 0
