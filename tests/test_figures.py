"""Figures: each returns its Axes/Figure, its numbers are the closed forms, files are stable.

Exact checks compare the data columns with :mod:`biper_theory.closed_form` (identical
float64) and the CSV files with them to the CSV's 10 significant digits (relative 5e-10).
Monte-Carlo columns are checked against the closed forms within k = 5 standard errors,
kept apart from the exact tolerances.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from biper_theory import closed_form as cf
from biper_theory import figures as F
from biper_theory.cli import main
from biper_theory.select import Recommendation
from biper_theory.weights import LayerAnalysis

#: Relative tolerance of a number written with 10 significant digits.
CSV_RTOL = 5e-10
#: Monte-Carlo tolerance, in standard errors.
MC_K = 5.0
REPO = Path(__file__).resolve().parents[1]


def read_csv(text: str) -> dict[str, np.ndarray]:
    rows = list(csv.reader(io.StringIO(text)))
    head, body = rows[0], rows[1:]
    return {name: np.array([float(r[i]) for r in body]) for i, name in enumerate(head)}


def assert_csv_matches(text: str, table: dict[str, np.ndarray]) -> None:
    parsed = read_csv(text)
    assert list(parsed) == list(table)
    for name, col in table.items():
        np.testing.assert_allclose(parsed[name], col, rtol=CSV_RTOL, atol=0, err_msg=name)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("figures")
    return out, F.write_all(out, mc_samples=20_000)


# ----------------------------------------------------------------------------------------
# Numbers = closed forms
# ----------------------------------------------------------------------------------------


def test_fig1_columns_are_the_binarizer_and_its_surrogate() -> None:
    d = F.binarizer_data(omega0=2.0, w_max=4.0, num=801)
    w = d.columns["w"]
    np.testing.assert_array_equal(d.columns["square_wave"], np.sign(np.sin(2.0 * w)))
    np.testing.assert_array_equal(d.columns["surrogate"], np.sin(2.0 * w))
    np.testing.assert_array_equal(d.columns["surrogate_derivative"], 2.0 * np.cos(2.0 * w))
    # the backward model is the derivative of the surrogate (central differences)
    h = w[1] - w[0]
    fd = np.gradient(d.columns["surrogate"], h)[1:-1]
    np.testing.assert_allclose(fd, d.columns["surrogate_derivative"][1:-1], atol=4 * h**2 * 8)


def test_fig2_columns_are_the_pdf() -> None:
    d = F.pdf_w_hat_data()
    y = d.columns["w_hat"]
    assert np.all(np.abs(y) < 1) and np.all(np.diff(y) > 0)
    assert d.params["b"] == list(F.FIG2_B)
    for b in F.FIG2_B:
        np.testing.assert_array_equal(d.columns[f"pdf_b={b:g}"], cf.pdf(y, b=b, omega0=1.0))


def test_fig2_shows_mass_moving_to_the_ends_as_b_grows() -> None:
    # the claim of the paper's text the b values were chosen for
    d = F.pdf_w_hat_data()
    y = d.columns["w_hat"]
    centre = [float(np.interp(0.0, y, d.columns[f"pdf_b={b:g}"])) for b in F.FIG2_B]
    edge = [float(np.interp(0.95, y, d.columns[f"pdf_b={b:g}"])) for b in F.FIG2_B]
    assert np.all(np.diff(centre) < 0) and np.all(np.diff(edge) > 0)


def test_fig2_histogram_within_k_se_of_the_exact_bin_averages() -> None:
    n = 40_000
    d = F.pdf_w_hat_data(mc_samples=n, bins=25, rng=7)
    h = d.extra["histogram"]
    width = h["right"] - h["left"]
    for b in F.FIG2_B:
        exact = h[f"exact_b={b:g}"]
        # the exact column is the bin average of the pdf, from the cdf
        edges = np.append(h["left"], h["right"][-1])
        np.testing.assert_allclose(exact, np.diff(cf.cdf(edges, b=b, omega0=1.0)) / width, rtol=1e-15)
        p = exact * width
        se = np.sqrt(p * (1 - p) / n) / width
        assert np.all(np.abs(h[f"density_b={b:g}"] - exact) <= MC_K * se), b
    # bins of equal width in arcsin ŵ covering [-1, 1]; dots at the arcsine midpoints
    theta = np.arcsin(np.append(h["left"], h["right"][-1]))
    np.testing.assert_allclose(np.diff(theta), np.pi / 25, rtol=1e-12)
    assert h["left"][0] == -1.0 and h["right"][-1] == 1.0
    np.testing.assert_allclose(np.arcsin(h["center"]), 0.5 * (theta[:-1] + theta[1:]), atol=1e-14)


def test_fig3_columns_and_peaks() -> None:
    d = F.qe_vs_omega0_data()
    w = d.columns["omega0"]
    for b in F.FIG3_B:
        np.testing.assert_array_equal(d.columns[f"qe_b={b:g}"], cf.quantization_error(b=b, omega0=w))
    a_star, qe_star = cf.qe_peak()
    pk = d.extra["peaks"]
    np.testing.assert_allclose(pk["omega0_peak"] * pk["b"], a_star, rtol=1e-15)
    np.testing.assert_allclose(pk["qe_peak"], qe_star, rtol=1e-14)
    # each curve's largest sampled value sits next to its marked peak and below it
    for b, w_peak in zip(pk["b"], pk["omega0_peak"], strict=True):
        col = d.columns[f"qe_b={b:g}"]
        i = int(np.argmax(col))
        assert col[i] <= qe_star * (1 + 1e-15)
        assert abs(np.log(w[i] / w_peak)) <= np.log(w[1] / w[0])
    assert d.params["qe_limit"] == cf.QE_LIMIT_LARGE_A


def test_fig4_to_fig6_columns() -> None:
    d4 = F.normalized_qe_sqnr_data()
    a = d4.columns["a"]
    np.testing.assert_array_equal(d4.columns["normalized_qe"], cf.normalized_quantization_error(a=a))
    np.testing.assert_array_equal(d4.columns["sqnr_db"], cf.sqnr_db(a=a))
    d5 = F.qe_vs_l1_data()
    a = d5.columns["a"]
    np.testing.assert_array_equal(d5.columns["qe"], cf.quantization_error(a=a))
    np.testing.assert_array_equal(d5.columns["l1_qe"], cf.l1_quantization_error(a=a))
    # what the figure shows: an interior maximum against a monotone decrease
    i = int(np.argmax(d5.columns["qe"]))
    assert 0 < i < a.size - 1
    assert np.all(np.diff(d5.columns["l1_qe"]) < 0)
    d6 = F.sign_flip_data()
    a = d6.columns["a"]
    np.testing.assert_array_equal(d6.columns["sign_flip_probability"], cf.sign_flip_probability(a=a))


def test_fig7_exact_columns_and_mc_within_k_se() -> None:
    d = F.analysis_vs_montecarlo_data(a=[0.7, 3.0], mc_samples=50_000, rng=3)
    a = d.columns["a"]
    for stem, fn in (
        ("second_moment", cf.second_moment),
        ("optimal_gamma", cf.optimal_gamma),
        ("quantization_error", cf.quantization_error),
        ("sign_flip_probability", cf.sign_flip_probability),
    ):
        exact = d.columns[f"{stem}_exact"]
        np.testing.assert_array_equal(exact, fn(a=a))
        se = d.columns[f"{stem}_se"]
        assert np.all(se > 0)
        assert np.all(np.abs(d.columns[f"{stem}_mc"] - exact) <= MC_K * se), stem


# ----------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------

AXES_FIGURES: list[tuple[Callable[..., Axes], Callable[..., F.FigureData]]] = [
    (F.pdf_w_hat, F.pdf_w_hat_data),
    (F.qe_vs_omega0, F.qe_vs_omega0_data),
    (F.sign_flip, F.sign_flip_data),
]
FIGURE_FIGURES: list[tuple[Callable[..., Figure], Callable[..., F.FigureData], int]] = [
    (F.binarizer, F.binarizer_data, 3),
    (F.normalized_qe_sqnr, F.normalized_qe_sqnr_data, 2),
    (F.qe_vs_l1, F.qe_vs_l1_data, 2),
]


@pytest.mark.parametrize(("draw", "data"), [pytest.param(d, g, id=d.__name__) for d, g in AXES_FIGURES])
def test_axes_figures_draw_on_the_given_axes_and_return_it(
    draw: Callable[..., Axes], data: Callable[..., F.FigureData]
) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    before = dict(mpl.rcParams)
    out = draw(ax, data=data())
    assert out is ax
    assert len(ax.get_lines()) >= 2
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert ax.get_legend() is not None
    assert dict(mpl.rcParams) == before  # the style never leaks into global state


@pytest.mark.parametrize(
    ("draw", "data", "panels"), [pytest.param(d, g, n, id=d.__name__) for d, g, n in FIGURE_FIGURES]
)
def test_figure_figures_fill_the_given_figure_and_return_it(
    draw: Callable[..., Figure], data: Callable[..., F.FigureData], panels: int
) -> None:
    fig = Figure()
    out = draw(fig, data=data())
    assert out is fig
    assert len(fig.axes) == panels
    for ax in fig.axes:
        assert ax.get_lines() and ax.get_xlabel()


def test_fig7_draws_bands_and_points() -> None:
    fig = Figure()
    d = F.analysis_vs_montecarlo_data(a=[0.7, 3.0, 10.0], mc_samples=5_000, rng=1)
    assert F.analysis_vs_montecarlo(fig, data=d) is fig
    assert len(fig.axes) == 4
    for ax in fig.axes:
        assert len(ax.collections) == 2  # the ±3 SE and ±1.96 SE bands
        assert any(np.size(line.get_xdata()) == 3 for line in ax.get_lines())


def test_default_call_creates_a_pyplot_figure() -> None:
    import matplotlib.pyplot as plt

    ax = F.sign_flip()
    try:
        assert isinstance(ax, Axes)
    finally:
        plt.close(ax.figure)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------
# write_all: files, CSV = closed forms, determinism
# ----------------------------------------------------------------------------------------


def test_write_all_writes_pdf_png_and_csv_for_each_figure(written: tuple[Path, list[Path]]) -> None:
    out, files = written
    assert all(p.parent == out and p.exists() for p in files)
    for name in F.FIGURES:
        assert (out / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{name}.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)  # no temporary files left
    assert b"CreationDate" not in (out / "fig3_qe_vs_omega0.pdf").read_bytes()


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in F.FIGURES if not F.FIGURES[n].uses_mc])
def test_written_csv_equals_the_closed_forms(written: tuple[Path, list[Path]], name: str) -> None:
    out, _ = written
    for fname, table in F.FIGURES[name].data().tables().items():
        assert_csv_matches((out / fname).read_text(), table)


def test_written_fig3_csv_against_closed_form_directly(written: tuple[Path, list[Path]]) -> None:
    out, _ = written
    parsed = read_csv((out / "fig3_qe_vs_omega0.csv").read_text())
    for b in F.FIG3_B:
        ref = cf.quantization_error(b=b, omega0=parsed["omega0"])
        np.testing.assert_allclose(parsed[f"qe_b={b:g}"], ref, rtol=2 * CSV_RTOL)


def test_write_all_is_byte_stable(tmp_path: Path, written: tuple[Path, list[Path]]) -> None:
    # PDF (no creation date), PNG (no timestamp) and CSV: the same bytes on a rerun
    first_dir, _ = written
    second = F.write_all(tmp_path, names=["fig6_sign_flip"], mc_samples=20_000)
    assert [p.name for p in second] == ["fig6_sign_flip.pdf", "fig6_sign_flip.png", "fig6_sign_flip.csv"]
    for q in second:
        assert q.read_bytes() == (first_dir / q.name).read_bytes(), q.name


def test_monte_carlo_tables_are_reproducible() -> None:
    for name in ("fig2_pdf", "fig7_analysis_vs_montecarlo"):
        one = F.build(name, mc_samples=5_000)
        two = F.build(name, mc_samples=5_000)
        assert {k: _csv(t) for k, t in one.tables().items()} == {k: _csv(t) for k, t in two.tables().items()}


def _csv(table: dict[str, np.ndarray]) -> str:
    return F.FigureData("t", table).to_csv()


def test_mc_seed_changes_only_monte_carlo_tables(tmp_path: Path) -> None:
    a = F.build("fig2_pdf", mc_seed=1, mc_samples=5_000)
    b = F.build("fig2_pdf", mc_seed=2, mc_samples=5_000)
    assert a.to_csv() == b.to_csv()
    assert a.to_csv("histogram") != b.to_csv("histogram")


def test_committed_figures_folder_is_current() -> None:
    """figures/ in the repository holds the CSV numbers the code produces now."""
    folder = REPO / "figures"
    assert (folder / "fig1_binarizer.csv").exists(), "figures/ is committed: run biper-theory reproduce"
    for name in F.FIGURES:
        data = F.build(name)
        for fname, table in data.tables().items():
            assert_csv_matches((folder / fname).read_text(), table)


# ----------------------------------------------------------------------------------------
# Arguments and import hygiene
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: F.binarizer_data(omega0=0.0), "omega0", id="omega0-zero"),
        pytest.param(lambda: F.binarizer_data(num=2), "num", id="num-small"),
        pytest.param(lambda: F.pdf_w_hat_data(b=[-1.0]), "b", id="negative-b"),
        pytest.param(lambda: F.pdf_w_hat_data(mc_samples=10), "rng", id="mc-without-rng"),
        pytest.param(lambda: F.pdf_w_hat_data(mc_samples=-1), "mc_samples", id="negative-samples"),
        pytest.param(lambda: F.qe_vs_omega0_data(omega0_min=10, omega0_max=1), "omega0_min", id="empty"),
        pytest.param(lambda: F.sign_flip_data(a_min=0.0), "a_min", id="a-zero"),
        pytest.param(lambda: F.build("fig9"), "figure must be one of", id="unknown-figure"),
        pytest.param(lambda: F.write_all("unused", mc_samples=1), "mc_samples", id="too-few-samples"),
    ],
)
def test_bad_arguments_raise_value_error(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_figures_command_writes_and_lists_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["figures", "--out", str(tmp_path), "--only", "fig6_sign_flip", "--format", "json", "--quiet"])
    listing = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [Path(r["file"]).name for r in listing["rows"]] == [
        f"fig6_sign_flip.{e}" for e in ("pdf", "png", "csv")
    ]
    assert_csv_matches((tmp_path / "fig6_sign_flip.csv").read_text(), F.sign_flip_data().columns)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["figures", "--only", "fig9"], id="unknown-figure"),
        pytest.param(["figures", "--seed", "-3"], id="negative-seed"),
        pytest.param(["figures", "--mc-samples", "1"], id="too-few-samples"),
    ],
)
def test_figures_command_bad_arguments_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_write_all_refuses_a_file_or_an_unknown_name_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("keep me")
    with pytest.raises(ValueError, match="out_dir must be a folder"):
        F.write_all(target, names=["fig6_sign_flip"])
    assert target.read_text() == "keep me"
    with pytest.raises(ValueError, match="names must be figures of"):
        F.write_all(tmp_path / "new", names=["fig6_sign_flip", "fig9"])
    assert not (tmp_path / "new").exists()


def test_figures_command_out_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a_file"
    target.write_text("")
    assert main(["figures", "--out", str(target), "--only", "fig6_sign_flip", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder" in err[0]


# ----------------------------------------------------------------------------------------
# Layout: what a reader sees (the rendered figures, as write_all renders them)
# ----------------------------------------------------------------------------------------


def _render(name: str) -> Figure:
    """Figure ``name`` drawn and saved as PNG the way :func:`F.write_all` does it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    spec = F.FIGURES[name]
    data = F.build(name, mc_samples=5_000)
    with F._styled():
        fig = Figure(figsize=spec.figsize, layout="constrained")
        FigureCanvasAgg(fig)  # so that the renderer can be asked for afterwards
        spec.draw(fig.add_subplot() if spec.panels == "axes" else fig, data=data)
        fig.savefig(io.BytesIO(), format="png")  # the layout as saved
    return fig


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in F.FIGURES])
def test_rendered_figure_has_no_clipped_text_and_no_legend_over_data(name: str) -> None:
    with F._styled():  # tick labels made on demand take the current rcParams: measure as drawn
        _check_layout(name, _render(name))


def _check_layout(name: str, fig: Figure) -> None:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg
    # everything drawn (labels, titles, tick labels, legends) lies inside the page
    drawn, page = fig.get_tightbbox(renderer), fig.bbox_inches
    slack = 0.01  # inches
    assert drawn.x0 >= page.x0 - slack and drawn.x1 <= page.x1 + slack, (name, drawn, page)
    assert drawn.y0 >= page.y0 - slack and drawn.y1 <= page.y1 + slack, (name, drawn, page)
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        frame = ax.get_window_extent(renderer)
        for line in ax.get_lines():
            xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
            if len(xy) < 3:  # reference lines (axhline, axvline) and legend proxies
                continue
            x, y = ax.transData.transform(xy[np.all(np.isfinite(xy), axis=1)]).T
            shown = (frame.x0 <= x) & (x <= frame.x1) & (frame.y0 <= y) & (y <= frame.y1)
            under = shown & (box.x0 <= x) & (x <= box.x1) & (box.y0 <= y) & (y <= box.y1)
            assert not under.any(), f"{name}: the legend covers {under.sum()} points of {line.get_label()!r}"


def test_importing_figures_loads_neither_pyplot_nor_torch() -> None:
    code = (
        "import sys, biper_theory.figures; "
        "bad = [m for m in ('matplotlib.pyplot', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------------------
# pick_omega_panels: a trained-like model against the model (``pick-omega --plot``)
# ----------------------------------------------------------------------------------------

PICK_OMEGA0 = 20.0


def _trained_like(seed: int = 7) -> dict[str, np.ndarray]:
    """Three layers with trained-like scales: Laplace b = 0.05 and 0.12, and a Gaussian one."""
    g = np.random.default_rng(seed)
    return {
        "layer1.conv": g.laplace(0.0, 0.05, (16, 8, 3, 3)).astype(np.float32),
        "layer2.conv": g.normal(0.0, 0.03, (32, 16, 3, 3)).astype(np.float32),
        "fc": g.laplace(0.0, 0.12, (10, 64)),
    }


def _panels_inputs(
    layers: dict[str, np.ndarray],
    *,
    per_channel: bool = False,
    criterion: str = "avoid-peak",
    **target: Any,
) -> tuple[dict[str, LayerAnalysis], Recommendation]:
    from biper_theory import select, weights

    analyses = weights.analyze_layers(layers, omega0=PICK_OMEGA0, per_channel=per_channel, rng=0)
    scales = {k: weights.fitted_scale(v) for k, v in layers.items()}
    rec = select.recommend(scales, criterion, omega0=PICK_OMEGA0, **target)
    return analyses, rec


def _by_gid(ax: Axes, gid: str) -> list[Line2D]:
    return [line for line in ax.get_lines() if line.get_gid() == gid]


@pytest.mark.parametrize(
    "per_channel", [pytest.param(False, id="per-layer"), pytest.param(True, id="per-channel")]
)
def test_pick_omega_panels_histogram_pdf_and_markers(per_channel: bool) -> None:
    from biper_theory import weights

    layers = _trained_like()
    analyses, rec = _panels_inputs(layers, per_channel=per_channel, criterion="target-nqe", nqe=0.3)
    fig = Figure(figsize=F.pick_omega_figsize(len(layers)), layout="constrained")
    before = dict(mpl.rcParams)
    out = F.pick_omega_panels(layers, analyses, rec, omega0=PICK_OMEGA0, fig=fig)
    assert out is fig and isinstance(out, Figure)
    assert dict(mpl.rcParams) == before  # the style never leaks into global state
    assert len(fig.axes) == 2 * len(layers)
    a_star = cf.qe_peak()[0]
    layer_marks = 0
    for row, (name, w) in enumerate(layers.items()):
        hist_ax, qe_ax = fig.axes[2 * row], fig.axes[2 * row + 1]
        # the layer-level Laplace b̂: the analysis's own, or (per channel) the layer's MLE
        b = float(weights.fitted_scale(w)) if per_channel else float(analyses[name].b)
        # (the analysis sums float32 weights in float32 rows: ~1e-7 relative; the MLE in float64)
        rel = 1e-12 if per_channel else 2e-7
        assert b == pytest.approx(float(np.abs(w.astype(np.float64)).mean()), rel=rel)
        # histogram: the density of sin(ω₀ w) over all weights, 80 bins on [-1, 1]
        (step,) = hist_ax.patches
        dens, edges = np.histogram(
            np.sin(PICK_OMEGA0 * w.astype(np.float64)), bins=80, range=(-1, 1), density=True
        )
        np.testing.assert_array_equal(step.get_data().values, dens)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(step.get_data().edges, edges)  # type: ignore[attr-defined]
        # the model pdf line: exactly closed_form.pdf at b̂ and ω₀ on its own x values
        (line,) = _by_gid(hist_ax, "model-pdf")
        x = np.asarray(line.get_xdata(), dtype=np.float64)
        assert x.size > 100 and np.all(np.abs(x) < 1)
        np.testing.assert_array_equal(line.get_ydata(), cf.pdf(x, b=b, omega0=PICK_OMEGA0))
        assert hist_ax.get_legend() is not None and name in hist_ax.get_title()
        # QE curve at b̂, and the markers at the right ω₀ (all inside the shown range)
        curve = next(ln for ln in qe_ax.get_lines() if np.size(ln.get_xdata()) > 2)
        xq = np.asarray(curve.get_xdata(), dtype=np.float64)
        np.testing.assert_array_equal(curve.get_ydata(), cf.quantization_error(b=b, omega0=xq))
        assert qe_ax.get_xscale() == "log"
        lr = rec.per_layer[name]
        expected = {
            "omega0-current": PICK_OMEGA0,
            "omega0-recommended": rec.omega0,
            "omega0-peak": a_star / b,
        }
        if not np.isclose(lr.omega0, rec.omega0, rtol=1e-9, atol=0):
            expected["omega0-layer"] = lr.omega0
            layer_marks += 1
        else:
            assert not _by_gid(qe_ax, "omega0-layer")
        lo, hi = qe_ax.get_xlim()
        for gid, x0 in expected.items():
            (mark,) = _by_gid(qe_ax, gid)
            np.testing.assert_array_equal(mark.get_xdata(), [x0, x0])
            assert lo < x0 < hi, gid
    assert layer_marks >= 1  # the layers' own recommendations differ here: the marker is exercised


def test_pick_omega_panels_phase_panel_against_each_layers_law() -> None:
    from biper_theory import laws, phase

    layers = _trained_like()
    analyses, rec = _panels_inputs(layers)
    fitted = {
        k: laws.fit(name, w)
        for (k, w), name in zip(layers.items(), ("laplace", "gaussian", "laplace"), strict=True)
    }
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=F.pick_omega_figsize(len(layers), columns=3), layout="constrained")
    FigureCanvasAgg(fig)
    F.pick_omega_panels(layers, analyses, rec, omega0=PICK_OMEGA0, fig=fig, laws=fitted)
    assert len(fig.axes) == 3 * len(layers)
    for row, (name, w) in enumerate(layers.items()):
        ax = fig.axes[3 * row + 2]
        (step,) = ax.patches
        edges, dens = phase.phase_histogram(w, omega0=PICK_OMEGA0, bins=F.PICK_OMEGA_PHASE_BINS)
        np.testing.assert_array_equal(step.get_data().edges, edges)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(step.get_data().values, dens)  # type: ignore[attr-defined]
        (line,) = _by_gid(ax, "phase-model")
        theta = np.asarray(line.get_xdata(), dtype=np.float64)
        np.testing.assert_array_equal(
            line.get_ydata(), phase.phase_density(fitted[name], theta, omega0=PICK_OMEGA0)
        )
        ps = phase.phase_statistics(w, omega0=PICK_OMEGA0, law=fitted[name])
        assert f"{ps.crest_share:.3f}" in ax.get_title() and name in ax.get_title()
    with F._styled():
        _check_layout("pick_omega_panels", fig)
    with pytest.raises(ValueError, match="columns must be 2 or 3"):
        F.pick_omega_figsize(2, columns=4)


def test_pick_omega_panels_subsamples_large_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    layers = {"big": np.random.default_rng(3).laplace(0.0, 0.05, 5_000)}
    analyses, rec = _panels_inputs(layers)
    monkeypatch.setattr(F, "PICK_OMEGA_HIST_MAX", 1_000)
    one = F.pick_omega_panels(layers, analyses, rec, omega0=PICK_OMEGA0, fig=Figure())
    two = F.pick_omega_panels(layers, analyses, rec, omega0=PICK_OMEGA0, fig=Figure())
    (s1,), (s2,) = one.axes[0].patches, two.axes[0].patches
    v1, v2 = s1.get_data().values, s2.get_data().values  # type: ignore[attr-defined]
    np.testing.assert_array_equal(v1, v2)  # seeded: the same subsample every time
    full, _ = np.histogram(np.sin(PICK_OMEGA0 * layers["big"]), bins=80, range=(-1, 1), density=True)
    assert not np.array_equal(v1, full)  # a subsample, not all weights
    label = str(s1.get_label())
    assert "1\\,000" in label and "5\\,000" in label  # "n = 1 000 of 5 000" (mathtext thin spaces)


def test_pick_omega_panels_layout_and_save(tmp_path: Path) -> None:
    """As the CLI draws it: no clipped text, no legend over data, PNG at the house dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    layers = _trained_like()
    analyses, rec = _panels_inputs(layers, criterion="target-nqe", nqe=0.3)
    fig = Figure(figsize=F.pick_omega_figsize(len(layers)), layout="constrained")
    FigureCanvasAgg(fig)
    F.pick_omega_panels(layers, analyses, rec, omega0=PICK_OMEGA0, fig=fig)
    path = F.save_figure(fig, tmp_path / "sub" / "pick.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    dpi = F.STYLE["savefig.dpi"]
    assert (width, height) == (round(10.0 * dpi), round(2.8 * len(layers) * dpi))
    assert [p.name for p in path.parent.iterdir()] == ["pick.png"]  # no temporary file left
    assert F.save_figure(fig, tmp_path / "again.png").read_bytes() == data  # no timestamp
    with F._styled():
        _check_layout("pick_omega_panels", fig)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"layers": {}}, "layers must hold", id="no-layers"),
        pytest.param({"omega0": 0.0}, "omega0", id="omega0-zero"),
        pytest.param({"omega0": float("nan")}, "omega0", id="omega0-nan"),
        pytest.param({"analyses": {}}, "analyses must have an entry", id="missing-analysis"),
    ],
)
def test_pick_omega_panels_bad_arguments(change: dict[str, Any], match: str) -> None:
    layers = {"conv": np.random.default_rng(1).laplace(0.0, 0.05, 300)}
    analyses, rec = _panels_inputs(layers)
    kwargs: dict[str, Any] = {"layers": layers, "analyses": analyses, "omega0": PICK_OMEGA0, **change}
    with pytest.raises(ValueError, match=match):
        F.pick_omega_panels(kwargs["layers"], kwargs["analyses"], rec, omega0=kwargs["omega0"], fig=Figure())
    with pytest.raises(ValueError, match="n_layers"):
        F.pick_omega_figsize(0)
    with pytest.raises(ValueError, match="format must be given"):
        F.save_figure(Figure(), Path("no_suffix"))


# ----------------------------------------------------------------------------------------
# monitor_trajectories (rows of biper_theory.nn.monitor.QEMonitor)


def _monitor_rows() -> list[dict[str, Any]]:
    rows = []
    for epoch in range(3):
        for layer, qe in (("layer1.0.conv1", 0.08), ("overall", 0.09)):
            rows.append(
                {
                    "layer": layer,
                    "epoch": epoch,
                    "qe_measured": qe + 0.001 * epoch,
                    "flip_ratio": None if epoch == 0 else 0.1 / epoch,
                    "share_past_half_period": 0.3,
                    "alpha_over_gamma_star": None,  # a layer without α: no line
                    "laws": {"laplace": {"qe_model": 0.1}, "gaussian": {"qe_model": 0.095}},
                }
            )
    return rows


def test_monitor_trajectories_draws_the_rows() -> None:
    fig = Figure()
    axes = list(fig.subplots(1, len(F.MONITOR_PANELS)))
    assert F.monitor_trajectories(_monitor_rows(), axes, switch_epoch=1.0) is fig
    qe_lines = [ln for ln in axes[0].get_lines() if ln.get_label() == "overall"]
    assert len(qe_lines) == 1
    np.testing.assert_allclose(np.asarray(qe_lines[0].get_ydata(), dtype=float), [0.09, 0.091, 0.092])
    flips = next(ln for ln in axes[1].get_lines() if ln.get_label() == "overall")
    np.testing.assert_allclose(np.asarray(flips.get_xdata(), dtype=float), [1, 2])  # None skipped
    labels = {ln.get_label() for ln in axes[0].get_lines()}
    assert {"overall, laplace model", "overall, gaussian model"} <= labels
    assert not [ln for ln in axes[3].get_lines() if ln.get_label() == "overall"]
    assert mpl.rcParams["font.size"] == mpl.rcParamsDefault["font.size"]  # no global change


def test_monitor_trajectories_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="history must hold monitor rows"):
        F.monitor_trajectories([{"layer": "overall", "epoch": None}])
    fig = Figure()
    with pytest.raises(ValueError, match="one Axes per panel"):
        F.monitor_trajectories(_monitor_rows(), fig.subplots(1, 2))
