"""Unrolled.plot(): rendered with matplotlib's Agg to PNG; a clear ImportError without it."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from seed import seed_record

pytest.importorskip("matplotlib")

DOCS_IMAGE = Path(__file__).parent.parent / "docs" / "img" / "unroll-seed.png"
PNG = b"\x89PNG\r\n\x1a\n"


def seed_unrolled(lengths: list[int] | None = None) -> Any:
    return seed_record(lengths).unroll()


def png_of(figure: Any, dpi: int = 60) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def test_one_heatmap_per_layer_and_direction_last_layer_on_top() -> None:
    figure = seed_unrolled().plot()
    heatmaps = [ax for ax in figure.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in heatmaps] == [
        "layer 1 forward →", "layer 1 backward ←", "layer 0 forward →", "layer 0 backward ←"
    ]  # fmt: skip
    image = heatmaps[2].images[0].get_array()  # layer 0 forward: hidden x token
    assert image.shape == (4, 6)
    expected = seed_unrolled().out.tensor[0, 0, 0].T  # token hidden -> hidden token
    assert torch.allclose(torch.tensor(image.data), expected)
    assert png_of(figure).startswith(PNG)


def test_padding_is_masked_grey() -> None:
    unrolled = seed_unrolled([4, 6, 2])
    figure = unrolled.plot(sequence=2)
    image = figure.axes[0].images[0]
    array = image.get_array()
    assert array.mask[:, 2:].all()  # sequence 2 has 2 valid tokens
    assert not array.mask[:, :2].any()
    assert image.cmap.get_bad().tolist() == pytest.approx([208 / 255, 208 / 255, 208 / 255, 1])
    assert "(grey: padding)" in figure.get_suptitle()


def test_cell_state_and_a_gate(tmp_path: Path) -> None:
    unrolled = seed_unrolled([4, 6, 2])
    forget = unrolled.plot(state="forget")
    assert forget.axes[0].images[0].get_clim() == (0.0, 1.0)  # a sigmoid gate: 0..1
    cell = unrolled.plot(state="c")
    low, high = cell.axes[0].images[0].get_clim()
    assert low == -high  # diverging around 0
    cell.savefig(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes().startswith(PNG)


def test_unbatched_gru_and_rnn(make_config: Any, run: Any) -> None:
    gru = run(make_config(kind="GRU", form="unbatched", layers=3)).record.unroll()
    figure = gru.plot(state="new")
    assert len([ax for ax in figure.axes if ax.images]) == 3
    assert ", sequence" not in figure.get_suptitle()
    rnn = run(make_config(kind="RNN_TANH")).record.unroll()
    with pytest.raises(ValueError, match=r"expected state as one of 'out', got 'forget'"):
        rnn.plot(state="forget")
    with pytest.raises(ValueError, match=r"expected sequence as an int in 0\.\.2 \(the batch row"):
        rnn.plot(sequence=3)


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    unrolled = seed_unrolled()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    with pytest.raises(ImportError, match=r"pip install bilstm-hooks\[plot\]"):
        unrolled.plot()


def test_docs_image_renders(overwrite_golden: bool) -> None:
    """docs/img/unroll-seed.png is the seed model's plot (regenerated with --overwrite-golden;
    PNG bytes vary with matplotlib's version, so only its presence is checked)."""
    png = png_of(seed_unrolled().plot(), dpi=100)
    if overwrite_golden:
        DOCS_IMAGE.write_bytes(png)
    assert DOCS_IMAGE.read_bytes().startswith(PNG)


def test_a_jupyter_kernel_shows_the_plot_once_with_or_without_matplotlib_inline() -> None:
    """Executed in a real kernel (nbclient): the figure, made without pyplot, is the
    cell's value and shows as one PNG; `%matplotlib inline` shows it once too."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    setup = (
        "import torch, bilstm_hooks as bh\n"
        "lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)\n"
        "rec = bh.attach_hooks(lstm)\n"
        "_ = lstm(torch.randn(5, 2, 3))\n"
        "u = rec[lstm].unroll()"
    )
    cells = [setup, "u.plot()", "%matplotlib inline\nu.plot()", "figure = u.plot()"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3")
    client.execute()
    images = [
        sum("image/png" in output.get("data", {}) for output in cell.outputs)
        for cell in notebook.cells
    ]
    assert images == [0, 1, 1, 0]  # an assignment shows nothing, as for any value
    shown = next(o for o in notebook.cells[1].outputs if "image/png" in o.get("data", {}))
    assert base64.b64decode(shown["data"]["image/png"]).startswith(PNG)
