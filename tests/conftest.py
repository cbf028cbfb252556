"""Tiny recurrent layers over the layout matrix, and the calls that exercise them.

A `Config` names one point of the matrix: kind (LSTM, LSTM with proj_size, GRU,
RNN tanh/relu) x layers x direction x batch_first x input form (batched, unbatched,
packed sorted, packed unsorted) x user-supplied h_0/c_0 x dtype x grad mode x
train mode (inter-layer dropout). `run_case(config)` builds the layer and its input
from seeds, calls it (hooked unless told otherwise) and returns what it returned.

Tests reach these through fixtures: `make_config`, `run_case`, `config_strategy`
(hypothesis) and the parametrized `layout_config`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import bilstm_hooks as bh

KINDS = ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")
FORMS = ("batched", "unbatched", "packed_sorted", "packed_unsorted")
DTYPES = (torch.float32, torch.float64, torch.bfloat16)
GRAD_MODES = ("grad", "no_grad", "inference_mode")
PROJ_SIZE = 2  # the proj_size of the matrix's projected LSTMs (hidden is 4)
DROPOUT = 0.25


def _default_lengths(form: str, batch: int, tokens: int) -> tuple[int, ...] | None:
    """Unequal lengths, longest == tokens: descending when sorted, rotated when not."""
    if not form.startswith("packed"):
        return None
    descending = tuple(max(1, tokens - (i * tokens) // batch) for i in range(batch))
    if form == "packed_sorted" or batch == 1:
        return descending
    return descending[-1:] + descending[:-1]  # (5, 4, 2) -> (2, 5, 4): unsorted


@dataclass(frozen=True)
class Config:
    """One point of the layout matrix; sizes are tiny so the suite stays fast."""

    kind: str = "LSTM"  # one of KINDS
    proj_size: int = 0  # LSTM only
    layers: int = 1
    bidirectional: bool = False
    batch_first: bool = False
    form: str = "batched"  # one of FORMS
    given_state: bool = False  # pass h_0 (and c_0) explicitly
    dtype: torch.dtype = torch.float32
    grad_mode: str = "grad"  # one of GRAD_MODES
    train: bool = False  # train mode; inter-layer dropout when layers > 1
    features: int = 3
    hidden: int = 4
    batch: int = 3
    tokens: int = 5
    lengths: tuple[int, ...] | None = field(default=None)  # packed forms only
    seed: int = 0

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.form in FORMS, self.form
        assert self.grad_mode in GRAD_MODES, self.grad_mode
        assert self.proj_size == 0 or (self.kind == "LSTM" and self.proj_size < self.hidden)
        if self.form.startswith("packed") and self.lengths is None:
            object.__setattr__(
                self, "lengths", _default_lengths(self.form, self.batch, self.tokens)
            )
        if self.lengths is not None:
            assert self.form.startswith("packed")
            assert len(self.lengths) == self.batch
            assert all(1 <= n <= self.tokens for n in self.lengths)
            if self.form == "packed_sorted":
                assert list(self.lengths) == sorted(self.lengths, reverse=True)

    # -- derived facts, written from PyTorch's documentation ------------------------
    @property
    def module_kind(self) -> str:
        return "RNN" if self.kind.startswith("RNN") else self.kind

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def h_out(self) -> int:
        return self.proj_size if self.proj_size else self.hidden

    @property
    def packed(self) -> bool:
        return self.form.startswith("packed")

    @property
    def batched(self) -> bool:
        return self.form != "unbatched"

    @property
    def dropout(self) -> float:
        return DROPOUT if self.train and self.layers > 1 else 0.0

    @property
    def valid_lengths(self) -> tuple[int, ...]:
        """Valid tokens per batch row (one row for an unbatched call)."""
        if self.lengths is not None:
            return self.lengths
        return (self.tokens,) * (self.batch if self.batched else 1)

    @property
    def padded_tokens(self) -> int:
        return max(self.valid_lengths)

    def grad_context(self) -> contextlib.AbstractContextManager[Any]:
        """`torch.enable_grad()`, `torch.no_grad()` or `torch.inference_mode()`."""
        if self.grad_mode == "grad":
            return torch.enable_grad()
        if self.grad_mode == "no_grad":
            return torch.no_grad()
        return torch.inference_mode()

    @property
    def id(self) -> str:
        bits = [self.kind + (f"-proj{self.proj_size}" if self.proj_size else "")]
        bits.append(f"L{self.layers}")
        bits.append("bi" if self.bidirectional else "uni")
        bits.append("bf" if self.batch_first else "tf")
        bits.append(self.form)
        if self.lengths is not None and self.lengths != _default_lengths(
            self.form, self.batch, self.tokens
        ):
            bits.append("len" + "_".join(map(str, self.lengths)))
        if self.given_state:
            bits.append("h0")
        bits.append(str(self.dtype).removeprefix("torch."))
        bits.append(self.grad_mode)
        if self.train:
            bits.append("train")
        return "-".join(bits)


def build_layer(cfg: Config) -> nn.Module:
    """The recurrent layer of `cfg`, weights from `cfg.seed`."""
    torch.manual_seed(cfg.seed)
    common: dict[str, Any] = {
        "num_layers": cfg.layers,
        "bidirectional": cfg.bidirectional,
        "batch_first": cfg.batch_first,
        "dropout": cfg.dropout,
    }
    layer: nn.Module
    if cfg.kind == "LSTM":
        layer = nn.LSTM(cfg.features, cfg.hidden, proj_size=cfg.proj_size, **common)
    elif cfg.kind == "GRU":
        layer = nn.GRU(cfg.features, cfg.hidden, **common)
    else:
        nonlinearity = "tanh" if cfg.kind == "RNN_TANH" else "relu"
        layer = nn.RNN(cfg.features, cfg.hidden, nonlinearity=nonlinearity, **common)
    return layer.to(cfg.dtype).train(cfg.train)


@dataclass
class Inputs:
    x: torch.Tensor  # (batch, tokens, features), batch first, before packing/transposing
    input: torch.Tensor | PackedSequence  # what the layer is called with
    hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


def build_inputs(cfg: Config, *, requires_grad: bool = False) -> Inputs:
    """The input (and h_0/c_0 when `cfg.given_state`) of `cfg`, from `cfg.seed`."""
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    x = torch.randn(cfg.batch, cfg.tokens, cfg.features, generator=gen).to(cfg.dtype)
    x.requires_grad_(requires_grad)
    input: torch.Tensor | PackedSequence
    if cfg.form == "unbatched":
        input = x[0]
    elif cfg.form == "batched":
        input = x if cfg.batch_first else x.transpose(0, 1)
    else:
        input = pack_padded_sequence(
            x if cfg.batch_first else x.transpose(0, 1),
            torch.tensor(cfg.lengths),
            batch_first=cfg.batch_first,
            enforce_sorted=cfg.form == "packed_sorted",
        )
    hx: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None
    if cfg.given_state:
        rows = cfg.layers * cfg.directions
        lead = (rows, cfg.batch) if cfg.batched else (rows,)
        h_0 = torch.randn(*lead, cfg.h_out, generator=gen).to(cfg.dtype)
        h_0.requires_grad_(requires_grad)
        if cfg.kind == "LSTM":
            c_0 = torch.randn(*lead, cfg.hidden, generator=gen).to(cfg.dtype)
            c_0.requires_grad_(requires_grad)
            hx = (h_0, c_0)
        else:
            hx = h_0
    return Inputs(x, input, hx)


@dataclass
class Case:
    """One call of one layer: what it was given and what it returned, untouched."""

    cfg: Config
    layer: nn.Module
    inputs: Inputs
    out: torch.Tensor | PackedSequence
    h_n: torch.Tensor
    c_n: torch.Tensor | None
    rec: bh.Recorder | None

    @property
    def record(self) -> bh.Record:
        assert self.rec is not None
        return self.rec[self.layer]


def call(layer: nn.Module, inputs: Inputs, cfg: Config) -> tuple[Any, ...]:
    """Call `layer` the way `cfg` says; returns `(out, h_n, c_n)` as the layer gave them."""
    with cfg.grad_context():
        if inputs.hx is None:
            out, state = layer(inputs.input)
        else:
            out, state = layer(inputs.input, inputs.hx)
    h_n, c_n = state if cfg.kind == "LSTM" else (state, None)
    return out, h_n, c_n


def run_case(
    cfg: Config,
    *,
    hooked: bool = True,
    history: int = 1,
    detach: bool = True,
    requires_grad: bool = False,
) -> Case:
    """Build `cfg`'s layer and input, call it once (hooked unless told otherwise)."""
    layer = build_layer(cfg)
    inputs = build_inputs(cfg, requires_grad=requires_grad)
    rec = bh.attach_hooks(layer, history=history, detach=detach) if hooked else None
    torch.manual_seed(cfg.seed + 2)  # the dropout masks of a train-mode call
    out, h_n, c_n = call(layer, inputs, cfg)
    return Case(cfg, layer, inputs, out, h_n, c_n, rec)


# -- the explicit matrix ------------------------------------------------------------
KIND_VARIANTS = (("LSTM", 0), ("LSTM", PROJ_SIZE), ("GRU", 0), ("RNN_TANH", 0), ("RNN_RELU", 0))


def layout_matrix() -> list[Config]:
    """Every kind x layers x direction x batch_first x form (the layout-shaping axes),
    with dtype, grad mode, h_0/c_0 and train mode cycled through them; then every kind x
    dtype x grad mode x h_0/c_0 x train mode on a two-layer bidirectional packed call."""
    configs = []
    structural = itertools.product(KIND_VARIANTS, (1, 2, 3), (False, True), (False, True), FORMS)
    for i, ((kind, proj), layers, bi, bf, form) in enumerate(structural):
        configs.append(
            Config(
                kind=kind,
                proj_size=proj,
                layers=layers,
                bidirectional=bi,
                batch_first=bf,
                form=form,
                dtype=DTYPES[i % 3],
                grad_mode=GRAD_MODES[(i // 3) % 3],
                given_state=bool((i // 5) % 2),
                train=bool((i // 7) % 2),
            )
        )
    extras = itertools.product(KIND_VARIANTS, DTYPES, GRAD_MODES, (False, True), (False, True))
    for i, ((kind, proj), dtype, grad_mode, given_state, train) in enumerate(extras):
        configs.append(
            Config(
                kind=kind,
                proj_size=proj,
                layers=2,
                bidirectional=True,
                batch_first=bool(i % 2),
                form="packed_unsorted" if i % 3 else "batched",
                dtype=dtype,
                grad_mode=grad_mode,
                given_state=given_state,
                train=train,
            )
        )
    unique = {cfg.id: cfg for cfg in configs}
    return list(unique.values())


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--overwrite-golden",
        action="store_true",
        help="rewrite tests/golden/, docs/cli.md's demo and docs/img/ instead of comparing "
        "(as BILSTM_HOOKS_OVERWRITE_GOLDEN=1 does); review the diff afterwards",
    )


@pytest.fixture
def overwrite_golden(request: pytest.FixtureRequest) -> bool:
    """Rewrite golden output instead of comparing it: `pytest --overwrite-golden` or
    BILSTM_HOOKS_OVERWRITE_GOLDEN=1."""
    return bool(request.config.getoption("--overwrite-golden")) or (
        os.environ.get("BILSTM_HOOKS_OVERWRITE_GOLDEN") == "1"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "layout_config" in metafunc.fixturenames:
        matrix = layout_matrix()
        metafunc.parametrize("layout_config", matrix, ids=[cfg.id for cfg in matrix])


# -- hypothesis -----------------------------------------------------------------------
# CI (CI=true) runs a derandomised profile: the same examples every run, so that a red
# run reproduces with `HYPOTHESIS_PROFILE=ci make test`. Locally the default profile
# explores new examples each run.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    """Any point of the matrix, with drawn sizes and lengths."""
    kind = draw(st.sampled_from(KINDS))
    hidden = draw(st.integers(1, 5))
    proj = draw(st.integers(0, hidden - 1)) if kind == "LSTM" else 0
    batch = draw(st.integers(1, 4))
    tokens = draw(st.integers(1, 6))
    form = draw(st.sampled_from(FORMS))
    lengths = None
    if form.startswith("packed"):
        drawn = draw(st.lists(st.integers(1, tokens), min_size=batch, max_size=batch))
        lengths = tuple(sorted(drawn, reverse=True) if form == "packed_sorted" else drawn)
    return Config(
        kind=kind,
        proj_size=proj,
        layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        form=form,
        given_state=draw(st.booleans()),
        dtype=draw(st.sampled_from(DTYPES)),
        grad_mode=draw(st.sampled_from(GRAD_MODES)),
        train=draw(st.booleans()),
        features=draw(st.integers(1, 4)),
        hidden=hidden,
        batch=batch,
        tokens=tokens,
        lengths=lengths,
        seed=draw(st.integers(0, 2**16)),
    )


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def one_intra_op_thread() -> Iterator[None]:
    """Tiny layers gain nothing from threads; on a busy 2-core machine oneDNN's
    spinning threads make one LSTM call take ~0.2 s instead of ~0.5 ms."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def make_config() -> type[Config]:
    """`make_config(kind="GRU", layers=2, ...)`: a `Config`."""
    return Config


@pytest.fixture(scope="session")
def run() -> Any:
    """`run(config, hooked=True, history=1, detach=True)`: a `Case`."""
    return run_case


@pytest.fixture(scope="session", name="layout_matrix")
def layout_matrix_fixture() -> list[Config]:
    return layout_matrix()


@pytest.fixture(scope="session")
def config_strategy() -> st.SearchStrategy[Config]:
    return configs()


@pytest.fixture(scope="session")
def factories() -> Any:
    """The lower-level builders, for tests that call a layer more than once."""

    class Factories:
        build_layer = staticmethod(build_layer)
        build_inputs = staticmethod(build_inputs)
        call = staticmethod(call)
        replace = staticmethod(replace)

    return Factories


@pytest.fixture
def seq_lstm() -> nn.LSTM:
    """The seed model of DESIGN.md: 3 features, hidden 4, 2 layers, bidirectional, batch-first."""
    torch.manual_seed(0)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)


@pytest.fixture
def encoder() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`(out, h_n)` of a hooked bidirectional two-layer LSTM named `encoder` (batch-first,
    hidden 4), called on 3 sequences of 6 tokens."""
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rec = bh.attach_hooks(nn.ModuleDict({"encoder": lstm}))
    out, (h_n, _) = lstm(torch.randn(3, 6, 3))
    yield out, h_n
    rec.remove()
