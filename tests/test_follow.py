"""Following names through torch ops: each rule of `_rules.RULES` against the values,
and the mode's life: on in the model's forward only, per thread, gone with the hooks.

The oracle (`oracle.expected`) rebuilds what a result's names say from the tensor
they name, with einops; where an op changes the values (an activation, a reduction),
the same op is applied to that tensor first.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import einops
import pytest
import torch
import torch.nn.functional as F
from oracle import elementary, expected
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import bilstm_hooks as bh
from bilstm_hooks._core import registry as _registry
from bilstm_hooks._core import storage_index as _storage_look
from bilstm_hooks._follow import rules as _rules


def stack_depth() -> int:
    return torch._C._len_torch_function_stack()


@pytest.fixture
def call() -> Iterator[Any]:
    """A bidirectional two-layer LSTM (batch-first) called on 3 sequences of 6 tokens."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    out, (h_n, c_n) = lstm(torch.randn(3, 6, 3))
    yield lstm, out, h_n, c_n
    rec.remove()


@pytest.fixture
def packed() -> Iterator[Any]:
    """The same layer on packed, unsorted input: lengths (4, 6, 2) in the caller's order."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    x = torch.randn(3, 6, 3)
    out, (h_n, _) = lstm(pack_padded_sequence(x, [4, 6, 2], batch_first=True, enforce_sorted=False))
    yield lstm, out, h_n
    rec.remove()


def names(tensor: Any) -> bh.AnnotatedTensor:
    found = bh.annotation_of(tensor)
    assert found is not None, "unnamed"
    return found


def named_as(
    result: torch.Tensor, source: torch.Tensor, op: Callable[[Any], Any] = lambda t: t
) -> bh.AnnotatedTensor:
    """`result`'s names say what it holds: `op` of the positions they name in `source`."""
    found = names(result)
    root = names(source)
    assert (root.at, root.sliced) == ({}, {})
    assert torch.equal(expected(op(source), root, found), result), found
    return found


# -- pad_packed_sequence ----------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_packed_sequence_gives_the_padded_out_with_its_lengths(
    packed: Any, batch_first: bool
) -> None:
    _, out, _ = packed
    with bh.follow():
        padded, lengths = pad_packed_sequence(out, batch_first=batch_first)
    found = names(padded)
    lead = "batch token" if batch_first else "token batch"
    assert found.pattern == f"{lead} (direction hidden)"
    assert found.origin == "encoder.out, padded"
    assert found.lengths == (4, 6, 2) == tuple(lengths.tolist())  # the caller's order
    assert bh.describe(padded).endswith("lengths [4, 6, 2]")
    rows = padded if batch_first else padded.transpose(0, 1)
    for row, n in enumerate(found.lengths):  # what the lengths say: zeros past them
        assert not rows[row, n:].any()
        assert rows[row, n - 1].any()


def test_pad_packed_sequence_across_the_matrix(layout_matrix: list[Any], run: Any) -> None:
    for cfg in layout_matrix:
        if not cfg.packed:
            continue
        case = run(cfg)
        with bh.follow():
            padded, _ = pad_packed_sequence(
                case.out, batch_first=cfg.batch_first, total_length=cfg.tokens + 1
            )
        found = names(padded)
        assert found.lengths == cfg.lengths, cfg.id
        assert found.sizes["token"] == cfg.tokens + 1, cfg.id
        record = case.record.out
        assert found.axes.groups == record.axes.groups, cfg.id
        assert torch.equal(
            padded[:, : cfg.padded_tokens] if cfg.batch_first else padded[: cfg.padded_tokens],
            record.tensor,
        ), cfg.id


def test_pad_packed_sequence_of_another_packed_sequence_is_unnamed() -> None:
    packed = pack_padded_sequence(torch.randn(3, 4, 2), [4, 3, 1], batch_first=True)
    with bh.follow():
        padded, _ = pad_packed_sequence(packed, batch_first=True)
    assert bh.annotation_of(padded) is None


# -- copies and elementwise ops ---------------------------------------------------------------
COPIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "contiguous": lambda t: t.contiguous(),
    "clone": lambda t: t.clone(),
    "to(float64)": lambda t: t.to(torch.float64),
    "float": lambda t: t.double().float(),
    "cpu": lambda t: t.cpu(),
    "to(cpu)": lambda t: t.to("cpu", copy=True),
    "type_as": lambda t: t.type_as(torch.zeros((), dtype=torch.float64)),
}


@pytest.mark.parametrize("copy", COPIES.values(), ids=list(COPIES))
def test_copies_keep_the_names(call: Any, copy: Callable[[torch.Tensor], torch.Tensor]) -> None:
    _, out, h_n, _ = call
    with bh.follow():
        results = [copy(out), copy(out[:, 1:, 4:]), copy(h_n[-2:].transpose(0, 1))]
    for result, source in zip(results, (out, out, h_n), strict=True):
        named_as(result, source, lambda t: copy(t))
    assert names(results[1]).notes == ("backward direction only", "token 1:6")


ELEMENTWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "F.relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": lambda t: t.sigmoid(),
    "gelu": F.gelu,
    "leaky_relu": F.leaky_relu,
    "dropout(eval)": lambda t: F.dropout(t, 0.5, training=False),
    "nn.Dropout(eval)": lambda t: nn.Dropout(0.3).eval()(t),
    "times 2": lambda t: t * 2,
    "2 times": lambda t: 2 * t,
    "plus 1": lambda t: t + 1,
    "minus": lambda t: 1 - t,
    "divided": lambda t: t / 3,
    "negated": lambda t: -t,
    "squared": lambda t: t**2,
    "abs": abs,
    "plus a broadcast bias": lambda t: t + torch.arange(t.shape[-1], dtype=t.dtype),
    "times itself": lambda t: t * t,
    "masked_fill": lambda t: t.masked_fill(t > 0.1, 0.0),
    "masked_fill, broadcast": lambda t: t.masked_fill(
        torch.zeros(t.shape[-1], dtype=torch.bool), 1.0
    ),
    "where": lambda t: torch.where(t > 0, t, torch.zeros(())),
    "softmax": lambda t: t.softmax(-1),
    "layer_norm": lambda t: F.layer_norm(t, t.shape[-1:]),
    "batch_norm": lambda t: F.batch_norm(t, None, None, training=True),
    "clamp": lambda t: t.clamp(-0.1, 0.1),
}


@pytest.mark.parametrize("op", ELEMENTWISE.values(), ids=list(ELEMENTWISE))
def test_elementwise_ops_keep_the_names(
    call: Any, op: Callable[[torch.Tensor], torch.Tensor]
) -> None:
    _, out, h_n, _ = call
    with bh.follow():
        results = [op(out), op(h_n), op(out[:, -2])]
    named_as(results[0], out, op)
    named_as(results[1], h_n, op)
    assert names(results[2]).at == {"token": 4}
    torch.testing.assert_close(op(expected(out, names(out), names(results[2]))), results[2])


def test_dropout_in_training_keeps_the_names_of_what_it_kept(call: Any) -> None:
    _, out, _, _ = call
    with bh.follow():
        dropped = F.dropout(out, 0.5)
        by_module = nn.Dropout(0.5)(out[..., :4])
    kept = dropped != 0
    assert torch.equal(expected(out * 2, names(out), names(dropped))[kept], dropped[kept])
    assert names(by_module).at == {"direction": 0}


def test_in_place_ops_keep_the_names(call: Any) -> None:
    _, out, _, _ = call
    with bh.follow():
        x = out.clone()
        x.relu_()
        x += 1
        x.masked_fill_(x > 1.2, 0.0)
        F.dropout(x, 0.5, inplace=True)
        nn.ReLU(inplace=True)(x)
    assert names(x).pattern == "batch token (direction hidden)"


def test_operands_at_different_positions_keep_the_axes_only(call: Any) -> None:
    """`out[..., :H] + out[..., H:]`: both directions summed, at neither of them."""
    _, out, h_n, _ = call
    with bh.follow():
        summed = out[..., :4] + out[..., 4:]
        same = out[..., :4] * out[..., :4]
        shifted = out[:, 1:] - out[:, :-1]  # different slices: no names
        mixed = h_n[-1] + h_n[-1].detach().clone().requires_grad_(False)
    found = names(summed)
    assert (found.pattern, found.at, found.notes) == ("batch token hidden", {}, ())
    assert names(same).at == {"direction": 0}
    assert bh.annotation_of(shifted) is None
    assert names(mixed).at == {"layer": 1, "direction": 1}


# -- cat, stack -------------------------------------------------------------------------------
def test_cat_of_the_last_layers_directions_is_the_final_representation(call: Any) -> None:
    lstm, _, h_n, _ = call
    with bh.follow():
        final = torch.cat([h_n[-2], h_n[-1]], -1)
        helper = bh.final_representation(h_n, module=lstm)
    found = named_as(final, h_n)
    assert (found.pattern, found.at, found.notes) == (
        "batch (direction hidden)",
        {"layer": 1},
        ("both directions",),
    )
    assert torch.equal(final, helper)
    assert names(helper).pattern == "batch (direction hidden)"


def test_cat_in_reverse_order_says_so(call: Any) -> None:
    _, _, h_n, _ = call
    with bh.follow():
        reverse = torch.cat([h_n[-1], h_n[-2]], dim=1)
    found = named_as(reverse, h_n)
    assert found.sliced == {"direction": (1, -1, -1)}
    assert found.notes == (
        "direction order: backward, forward (bh.final_representation gives them in order)",
    )
    first_half = names(reverse[:, :4])
    assert first_half.at == {"layer": 1, "direction": 1}
    assert first_half.notes == ("backward direction only",)


@pytest.mark.parametrize(
    ("make", "pattern", "source"),
    [
        (lambda out, h_n: torch.stack([h_n[-2], h_n[-1]]), "direction batch hidden", "h_n"),
        (lambda out, h_n: torch.stack([h_n[-2], h_n[-1]], -1), "batch hidden direction", "h_n"),
        (lambda out, h_n: torch.stack([h_n[0], h_n[2]], 1), "batch layer hidden", "h_n"),
        (lambda out, h_n: torch.cat([h_n[1], h_n[3]], 0), "(layer batch) hidden", "h_n"),
        (lambda out, h_n: torch.cat([out[..., :4], out[..., 4:]], -1),
         "batch token (direction hidden)", "out"),
        (lambda out, h_n: torch.cat((out[:, 0], out[:, 2], out[:, 4]), -1),
         "batch (token direction hidden)", "out"),
    ],
    ids=["stack", "stack-last", "stack-layers", "cat-layers", "cat-halves", "cat-tokens"],
)  # fmt: skip
def test_joined_parts_are_named_against_the_values(
    call: Any, make: Any, pattern: str, source: str
) -> None:
    _, out, h_n, _ = call
    with bh.follow():
        result = make(out, h_n)
    assert named_as(result, out if source == "out" else h_n).pattern == pattern


def test_joins_that_are_not_of_one_tensor_are_unnamed(call: Any) -> None:
    lstm, out, h_n, _ = call
    _other, (h_other, _) = lstm(torch.randn(3, 6, 3))
    with bh.follow():
        two_calls = torch.cat([h_n[-2], h_other[-1]], -1)
        assert bh.annotation_of(torch.cat([out[:, :2], out[:, 2:]], 1)) is None  # no position
        assert bh.annotation_of(torch.cat([h_n[0], h_n[3], h_n[1]], -1)) is None  # no order
        widened = torch.cat([out, torch.zeros(3, 6, 1)], -1)
    # side by side on the last axis: each row holds that row of every part (feature_joins)
    assert names(two_calls).pattern == "batch feature"
    assert "direction" not in names(two_calls).dims  # not both directions of one call
    assert names(widened).pattern == "batch token feature"


# -- along batch: sorting, unsorting ----------------------------------------------------------
def padded_of(out: Any, *, batch_first: bool = True) -> torch.Tensor:
    with bh.follow():
        padded, _ = pad_packed_sequence(out, batch_first=batch_first)
    return padded


def check_lengths(padded: torch.Tensor, batch_axis: int) -> None:
    """The lengths a padded tensor's names give match its zeros."""
    found = names(padded)
    assert found.lengths is not None
    rows = padded.movedim(batch_axis, 0)
    token = 0  # the token axis after the batch axis moved to the front
    for row, n in enumerate(found.lengths):
        assert not rows[row].narrow(token, n, rows.shape[1] - n).any(), (row, n)
        assert rows[row].select(token, n - 1).any(), (row, n)


@pytest.mark.parametrize(
    "reorder",
    [
        lambda p, order: p.index_select(0, order),
        lambda p, order: torch.index_select(p, 0, order),
        lambda p, order: p[order],
        lambda p, order: p[order, :, :],
        lambda p, order: p[order.tolist()],
        lambda p, order: p[order, ...],
        lambda p, order: p.gather(0, order.view(-1, 1, 1).expand(-1, *p.shape[1:])),
    ],
    ids=[
        "index_select",
        "torch.index_select",
        "p[order]",
        "p[order, :, :]",
        "list",
        "ellipsis",
        "gather",
    ],
)
def test_reordering_batch_rows_reorders_the_lengths(packed: Any, reorder: Any) -> None:
    _, out, _ = packed
    padded = padded_of(out)
    order = torch.tensor([1, 0, 2])
    with bh.follow():
        sorted_rows = reorder(padded, order)
    found = names(sorted_rows)
    assert found.pattern == "batch token (direction hidden)"
    assert found.lengths == (6, 4, 2)
    check_lengths(sorted_rows, 0)


def test_sorting_then_unsorting_gives_the_lengths_back_in_the_callers_order(packed: Any) -> None:
    _, out, _ = packed
    padded = padded_of(out, batch_first=False)
    with bh.follow():
        lengths = torch.tensor(names(padded).lengths)
        _, by_length = lengths.sort(descending=True)
        sorted_rows = padded.index_select(1, by_length)
        mask = torch.tensor([True, False, True])
        kept = padded[:, mask]
        back = sorted_rows.index_select(1, by_length.argsort())
    assert names(sorted_rows).lengths == (6, 4, 2)
    assert names(kept).lengths == (4, 2)
    assert names(back).lengths == (4, 6, 2)
    check_lengths(sorted_rows, 1)
    check_lengths(back, 1)
    assert torch.equal(back, padded)


def test_gather_along_batch_that_mixes_rows_is_unnamed(packed: Any) -> None:
    _, out, _ = packed
    padded = padded_of(out)
    with bh.follow():
        mixed = padded.gather(0, torch.randint(0, 3, padded.shape))
        along_tokens = padded.gather(1, torch.zeros(3, 1, 8, dtype=torch.long))
    assert bh.annotation_of(mixed) is None
    assert bh.annotation_of(along_tokens) is None


# -- reductions over a named axis -------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "dim", "keepdim", "pattern"),
    [
        ("sum", 1, False, "batch (direction hidden)"),
        ("mean", 0, False, "token (direction hidden)"),
        ("amax", -1, False, "batch token"),
        ("max", 1, False, "batch (direction hidden)"),
        ("sum", 1, True, "batch () (direction hidden)"),
        ("mean", (0, 1), False, "(direction hidden)"),
        ("std", 1, False, "batch (direction hidden)"),
        ("logsumexp", 2, False, "batch token"),
    ],
)
def test_reductions_over_a_named_axis(
    call: Any, op: str, dim: Any, keepdim: bool, pattern: str
) -> None:
    _, out, _, _ = call
    with bh.follow():
        result = getattr(out, op)(dim, keepdim=keepdim) if op != "logsumexp" else out.logsumexp(dim)
    values = result.values if op == "max" else result
    found = names(values)
    assert found.pattern == pattern
    root = names(out)
    reduction = {
        "amax": "max",
        "std": lambda x, axes: x.std(axes),
        "logsumexp": lambda x, axes: x.logsumexp(axes),
    }.get(op, op)
    wanted = einops.reduce(elementary(out, root), f"{' '.join(root.dims)} -> {pattern}", reduction)
    torch.testing.assert_close(wanted, values)
    over = root.axes.groups[dim] if isinstance(dim, int) else ("batch", "token")
    assert found.origin.startswith(f"encoder.out, {op} over ")
    assert all(name in found.origin for name in over)


def test_a_reduction_over_token_forgets_the_lengths_one_over_hidden_keeps_them(packed: Any) -> None:
    _, out, _ = packed
    padded = padded_of(out)
    with bh.follow():
        per_token = padded.norm(dim=-1)
        with pytest.warns(bh.LayoutWarning, match="padding is in it"):
            total = padded.mean(dim=1)  # a sum over the zero padding would be exact: silent
    assert names(per_token).lengths == (4, 6, 2)
    assert names(total).lengths is None


# -- reshape/view copies, a Linear head -------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "pattern", "source"),
    [
        (
            lambda out, h_n: out.transpose(0, 1).reshape(6, 3, 2, 4),
            "token batch direction hidden",
            "out",
        ),
        (
            lambda out, h_n: h_n.transpose(0, 1).reshape(3, -1),
            "batch (layer direction hidden)",
            "h_n",
        ),
        (
            lambda out, h_n: h_n.view(2, 2, 3, 4).transpose(1, 2).reshape(2, 3, 8),
            "layer batch (direction hidden)",
            "h_n",
        ),
        (
            lambda out, h_n: out.transpose(1, 2).flatten(0, 1),
            "(batch direction hidden) token",
            "out",
        ),
        (lambda out, h_n: out[:, 1:].reshape(-1, 8), "(batch token) (direction hidden)", "out"),
    ],
    ids=["time-major unfused", "batch first", "layers, directions joined", "flatten", "of a slice"],
)
def test_reshape_copies_are_named(call: Any, make: Any, pattern: str, source: str) -> None:
    _, out, h_n, _ = call
    with bh.follow():
        result = make(out, h_n)
    assert named_as(result, out if source == "out" else h_n).pattern == pattern


def test_a_linear_head_keeps_the_leading_axes(packed: Any) -> None:
    _, out, _ = packed
    padded = padded_of(out)
    head = nn.Linear(8, 5)
    with bh.follow():
        logits = head(padded)
        functional = F.linear(padded[:, 0], torch.randn(2, 8))
    found = names(logits)
    assert (found.pattern, found.sizes["feature"]) == ("batch token feature", 5)
    assert found.origin == "encoder.out, padded, through a Linear layer"
    assert found.lengths == (4, 6, 2)
    assert names(functional).pattern == "batch feature"
    assert names(functional).at == {"token": 0}


# -- no rule: no names ------------------------------------------------------------------------
UNRULED: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "matmul": lambda out, h_n: torch.matmul(out, torch.randn(8, 2)),
    "@": lambda out, h_n: out @ torch.randn(8, 2),
    "bmm": lambda out, h_n: torch.bmm(out, torch.randn(3, 8, 2)),
    "topk": lambda out, h_n: out.topk(2, dim=-1).values,
    "flip": lambda out, h_n: out.flip(1),
    "roll": lambda out, h_n: out.roll(1, 1),
    "cumsum": lambda out, h_n: out.cumsum(1),
    "einsum": lambda out, h_n: torch.einsum("btd,de->bte", out, torch.randn(8, 2)),
    "sort": lambda out, h_n: out.sort(-1).values,
}


@pytest.mark.parametrize("op", UNRULED.values(), ids=list(UNRULED))
def test_an_op_without_a_rule_drops_the_names(call: Any, op: Any) -> None:
    _, out, h_n, _ = call
    with bh.follow():
        result = op(out, h_n)
    assert bh.annotation_of(result) is None


def test_without_following_copies_are_unnamed(call: Any) -> None:
    _, out, h_n, _ = call
    assert bh.annotation_of(F.dropout(out, 0.5)) is None
    assert bh.annotation_of(torch.cat([h_n[-2], h_n[-1]], -1)) is None
    assert bh.annotation_of(out[:, -1]) is not None  # views are named anyway


def test_every_rule_is_tested_here() -> None:
    """The rules of the table, each with its test above (the appended norm_rule and
    bmm_rule in test_rules_extra.py, pack_rule in test_packed_rows.py, unbind_rule in
    test_misuse_rows.py)."""
    tested = {
        "same_rule", "pad_rule", "batch_order_rule", "cat_rule", "reduce_rule", "linear_rule",
        "view_rule", "norm_rule", "bmm_rule", "pack_rule", "unbind_rule",
    }  # fmt: skip
    assert {rule.__name__ for rule in _rules.RULES.values()} == tested


# -- the mode: when it is on ------------------------------------------------------------------
class Model(nn.Module):
    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.encoder = nn.GRU(3, 4, bidirectional=True, batch_first=True)
        self.head = nn.Linear(8, 2)
        self.fail = fail
        self.depth: list[int] = []
        self.inside: Callable[[], None] = lambda: None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _out, h_n = self.encoder(x)
        self.depth.append(stack_depth())
        self.inside()
        if self.fail:
            raise RuntimeError("the forward failed")
        return self.head(torch.cat([h_n[-2], h_n[-1]], -1))


def test_without_follow_the_function_mode_stack_stays_empty_and_the_hooks_are_as_before() -> None:
    model = Model()
    bh.attach_hooks(model)
    logits = model(torch.randn(2, 5, 3))
    assert model.depth == [0]
    assert not model._forward_pre_hooks
    assert not model._forward_hooks
    assert len(model.encoder._forward_hooks) == 1
    (check,) = model.encoder._forward_pre_hooks.values()  # the entrance check alone
    assert type(check.__self__).__name__ == "EntranceCheck"
    assert bh.annotation_of(logits) is None


def test_with_follow_the_mode_is_on_in_the_forward_only() -> None:
    model = Model()
    rec = bh.attach_hooks(model, follow=True)
    assert stack_depth() == 0
    logits = model(torch.randn(2, 5, 3))
    assert model.depth == [1]
    assert stack_depth() == 0
    assert names(logits).pattern == "batch feature"
    assert (
        bh.annotation_of(
            torch.cat([rec["encoder"].h_n.tensor[-2], rec["encoder"].h_n.tensor[-1]], -1)
        )
        is None
    )


def test_the_mode_is_off_after_an_exception_in_the_forward() -> None:
    model = Model(fail=True)
    bh.attach_hooks(model, follow=True)
    for _ in range(2):
        with pytest.raises(RuntimeError, match=r"^the forward failed$"):
            model(torch.randn(2, 5, 3))
        assert stack_depth() == 0
    assert model.depth == [1, 1]


def test_the_block_form_is_off_after_its_block_and_after_an_exception() -> None:
    with bh.follow():
        assert stack_depth() == 1
    assert stack_depth() == 0
    with pytest.raises(ValueError, match=r"^inside$"), bh.follow():
        raise ValueError("inside")
    assert stack_depth() == 0


def test_the_mode_is_per_thread() -> None:
    model = Model()
    bh.attach_hooks(model, follow=True)
    inside, done = threading.Event(), threading.Event()
    seen: list[int] = []

    def wait_inside() -> None:
        inside.set()
        assert done.wait(10)

    model.inside = wait_inside
    worker = threading.Thread(target=model, args=(torch.randn(2, 5, 3),))
    worker.start()
    assert inside.wait(10)
    seen.append(stack_depth())  # here, while the other thread is in the forward
    done.set()
    worker.join(10)
    assert model.depth == [1]
    assert seen == [0]


def test_threads_following_at_once_each_leave_their_own_mode() -> None:
    model = Model()
    bh.attach_hooks(model, follow=True)
    barrier = threading.Barrier(2)
    after: list[int] = []

    def run() -> None:
        barrier.wait(10)
        for _ in range(5):
            model(torch.randn(2, 5, 3))
        after.append(stack_depth())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert after == [0, 0]
    assert model.depth == [1] * 10


def test_remove_takes_the_follow_hooks_off() -> None:
    model = Model()
    rec = bh.attach_hooks(model, follow=True)
    assert len(model._forward_pre_hooks) == 1
    rec.remove()
    rec.remove()
    assert not model._forward_pre_hooks
    assert not model._forward_hooks
    model(torch.randn(2, 5, 3))
    assert model.depth == [0]


def test_the_context_manager_form_takes_them_off_too() -> None:
    model = Model()
    with bh.attach_hooks(model, follow=True):
        model(torch.randn(2, 5, 3))
    model(torch.randn(2, 5, 3))
    assert model.depth == [1, 0]


# A process in which `import bilstm_hooks` fails, as where it is not installed.
WITHOUT_US = 'import sys; sys.modules["bilstm_hooks"] = None\nimport torch\n'


def test_a_model_saved_with_follow_hooks_loads_without_bilstm_hooks(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.GRU(3, 4, batch_first=True))
    bh.attach_hooks(model, follow=True)
    torch.save(model, tmp_path / "model.pt")
    code = (
        f"m = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False)\n"
        "hooks = [len(d) for mod in m.modules()\n"
        "         for d in (mod._forward_hooks, mod._forward_pre_hooks)]\n"
        "print(sum(hooks), m(torch.randn(2, 5, 3))[0].shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_US + code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 torch.Size([2, 5, 4])"
    assert len(model._forward_pre_hooks) == 1  # saving took nothing off the original


@pytest.mark.parametrize("grad", [False, True])
def test_a_block_after_an_unfollowed_call_follows_the_views_of_its_batch_first_out(
    grad: bool,
) -> None:
    # unfollowed, the hook keys a batch-first out (a view of the layer's buffer) by itself
    # only; the block keys it by its base too, so that the mode's cheap look finds its views
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    with torch.set_grad_enabled(grad):
        out, _ = lstm(torch.randn(2, 5, 3))
        with bh.follow():
            forward_half = F.relu(out[:, -1, :4])
            with pytest.warns(bh.LayoutWarning, match="backward half"):
                F.linear(out[:, -1], torch.ones(2, 8))  # used: warned
    found = names(forward_half)
    assert (found.pattern, found.at) == ("batch hidden", {"token": 4, "direction": 0})
    assert torch.equal(forward_half, F.relu(out[:, -1, :4]))


def test_views_of_an_unfollowed_batch_first_out_are_named_against_the_values() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bh.attach_hooks(lstm)
    out, (h_n, _) = lstm(torch.randn(2, 5, 3))
    assert out._base is not None  # the case: a view, whose siblings hold its base
    last_forward, first_backward = out[:, -1, :4], out[:, 0, 4:]
    assert names(last_forward).at == {"token": 4, "direction": 0}
    assert names(first_backward).at == {"token": 0, "direction": 1}
    assert torch.equal(last_forward, h_n[-2])
    assert torch.equal(first_backward, h_n[-1])


def test_views_of_a_batch_first_out_are_named_past_the_storage_scans_size() -> None:
    lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(lstm, history=800)
    with torch.no_grad():
        outs = [lstm(torch.randn(2, 5, 3))[0] for _ in range(800)]
    assert _registry.size() > _storage_look._INDEXED_AT_MOST  # live: the storage scan is skipped
    for out in (outs[-1], outs[-40]):
        found = names(out[:, -1, 4:])
        assert (found.pattern, found.at) == ("batch hidden", {"token": 4, "direction": 1})
    assert bh.annotation_of(torch.randn(2, 5, 8)[:, -1]) is None
    rec.remove()
    del outs, rec
    gc.collect()  # the kept calls: now dead entries, which must not skip the storage scan
    assert _registry.stored() > _storage_look._INDEXED_AT_MOST
    bh.attach_hooks(lstm)
    out, _ = lstm(torch.randn(2, 5, 3))
    assert names(out.detach()[:, 0, 4:]).at == {"token": 0, "direction": 1}  # by storage
    assert _registry.size() < _storage_look._INDEXED_AT_MOST


def test_a_followed_model_follows_the_views_of_an_unfollowed_out_passed_in() -> None:
    encoder = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
    bh.attach_hooks(encoder)  # not followed: its out is keyed by itself only

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(8, 2)  # a recurrent layer, so that it can be hooked

        def forward(self, out: torch.Tensor) -> torch.Tensor:
            later = out[:, 1:]  # a view of the layer's buffer, as out is: a sibling
            return later[:, -1]  # both halves at the last token: the bug

    head = Head()
    bh.attach_hooks(head, follow=True)
    out, _ = encoder(torch.randn(2, 5, 3))
    with pytest.warns(bh.LayoutWarning, match="backward half"):
        head(out)
