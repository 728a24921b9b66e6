r"""Figures 1–3 of Vargas et al. (2024) and four more, with the numbers behind each.

Every figure comes as a pair of functions: ``<name>_data(...)`` returns a
:class:`FigureData` (the columns that are drawn, taken from the library: closed forms from
:mod:`biper_theory.closed_form`, samples from :mod:`biper_theory.montecarlo`), and
``<name>(ax=None | fig=None, *, data=None, ...)`` draws it and returns the Axes or Figure.
:func:`write_all` saves each as PDF and PNG with its CSV tables beside it. One more,
:func:`pick_omega_panels`, draws a user's trained model (weights, their
:func:`biper_theory.weights.analyze_layers` and a :func:`biper_theory.select.recommend`)
for ``biper-theory pick-omega --plot``; :func:`save_figure` writes any of them atomically.

============================  ==========================================================
``binarizer``                 Fig. 1: sign(w), the square wave sign(sin ω₀w), and the
                              surrogate sin(ω₀w) with its derivative ω₀cos(ω₀w)
``pdf_w_hat``                 Fig. 2: density of ŵ = sin(ω₀w), ω₀ = 1, b in
                              :data:`FIG2_B`, with an optional Monte-Carlo histogram
``qe_vs_omega0``              Fig. 3: QE at the optimal γ versus ω₀ for b in :data:`FIG3_B`
``normalized_qe_sqnr``        not in the paper: QE*/E ŵ² and the SQNR in dB versus a
``qe_vs_l1``                  not in the paper: the paper's QE* beside the official code's
                              L1 "QE" = 1 − γ*
``sign_flip``                 not in the paper: P[sign sin(ω₀w) ≠ sign w] versus a
``analysis_vs_montecarlo``    not in the paper: closed forms against Monte Carlo, with
                              95 % and 99.7 % bands from the standard error
``pick_omega_panels``         not in the paper: a trained model's ŵ histogram over the
                              model pdf, and QE* versus ω₀ (``pick-omega --plot``)
============================  ==========================================================

matplotlib is imported here and nowhere in the core. Nothing changes global state: the
house style is applied with :func:`matplotlib.rc_context` inside each function, and
:func:`write_all` draws on bare :class:`matplotlib.figure.Figure` objects (Agg canvas),
never through pyplot. Text uses mathtext only (no LaTeX install needed).

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1, Figs. 1–3.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import closed_form as cf
from ._io import atomic_path, atomic_write

if TYPE_CHECKING:
    from .laws import Law
    from .select import Recommendation
    from .weights import LayerAnalysis

__all__ = [
    "FIG2_B",
    "FIG3_B",
    "FIGURES",
    "STYLE",
    "DEFAULT_MC_SEED",
    "DEFAULT_MC_SAMPLES",
    "FigureData",
    "FigureSpec",
    "binarizer",
    "binarizer_data",
    "pdf_w_hat",
    "pdf_w_hat_data",
    "qe_vs_omega0",
    "qe_vs_omega0_data",
    "normalized_qe_sqnr",
    "normalized_qe_sqnr_data",
    "qe_vs_l1",
    "qe_vs_l1_data",
    "sign_flip",
    "sign_flip_data",
    "analysis_vs_montecarlo",
    "analysis_vs_montecarlo_data",
    "PICK_OMEGA_ROW_SIZE",
    "PICK_OMEGA_HIST_MAX",
    "PICK_OMEGA_BINS",
    "pick_omega_figsize",
    "pick_omega_panels",
    "save_figure",
    "build",
    "write_all",
    "study_panels",
    "trained_weights",
    "trained_weights_data",
    "trained_weights_figsize",
    "write_trained_weights",
]

Array = npt.NDArray[np.float64]

#: Laplace scales b of Fig. 2 (ω₀ = 1). The paper does not list its values; these show
#: the mass leaving 0 for ±1 as b grows (b = 0.25 is nearly Laplace, b = 4 nearly arcsine).
FIG2_B: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Laplace scales b of Fig. 3. b = 0.05 is typical of trained latent weights; its peak
#: ω₀ = a*/b ≈ 19.1 sits next to the paper's choice ω₀ = 20.
FIG3_B: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5)
#: Seed of every Monte-Carlo draw in :func:`write_all` (fixed, so the files are reproducible).
DEFAULT_MC_SEED = 20240401
#: Samples per Monte-Carlo estimate (per a value, per histogram) in :func:`write_all`.
DEFAULT_MC_SAMPLES = 200_000
#: Significant digits of the numbers in the CSV files. Ten digits are far below what a plot
#: resolves and keep the files identical across numpy builds whose sin/exp differ in the
#: last ulp (SIMD versus scalar loops).
CSV_DIGITS = 10
#: The frequency the paper trains with (Section 3), marked in Fig. 3.
PAPER_OMEGA0 = 20.0

#: House style, applied with ``matplotlib.rc_context`` (never globally).
STYLE: dict[str, Any] = {
    "font.size": 9.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 9.0,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.5,
    "savefig.dpi": 200,
    "text.usetex": False,
    "mathtext.fontset": "dejavusans",
    # Type 3 glyphs are drawn by matplotlib itself from its bundled DejaVu fonts; Type 42 would
    # embed a subset cut by fontTools, whose bytes change with the fontTools release, so that
    # the committed PDFs would differ on a machine that resolved another fontTools.
    "pdf.fonttype": 3,
    "svg.hashsalt": "biper-theory",
}

_COLORS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c")


# ----------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureData:
    """The numbers drawn in one figure.

    Attributes
    ----------
    name : str
        File stem of the figure (``fig2_pdf``, ...).
    columns : dict of str to ndarray
        The main table: equal-length 1-d columns, written to ``<name>.csv``.
    extra : dict of str to dict of str to ndarray
        Further tables (markers, histograms), each written to ``<name>_<key>.csv``.
    params : dict
        The scalar settings behind the figure (b values, ω₀, seeds, sample sizes).
    """

    name: str
    columns: dict[str, Array]
    extra: dict[str, dict[str, Array]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, table in {"": self.columns, **self.extra}.items():
            lengths = {np.shape(v) for v in table.values()}
            if len(lengths) > 1 or any(len(s) != 1 for s in lengths):
                raise ValueError(f"table {key or 'main'!r} of {self.name}: columns must be 1-d, equal length")

    def tables(self) -> dict[str, dict[str, Array]]:
        """All tables keyed by file name (``<name>.csv``, ``<name>_<key>.csv``)."""
        out = {f"{self.name}.csv": self.columns}
        out.update({f"{self.name}_{k}.csv": v for k, v in self.extra.items()})
        return out

    def to_csv(self, key: str | None = None) -> str:
        """One table as CSV text (the main one when ``key`` is None), numbers to
        ``CSV_DIGITS`` significant digits."""
        table = self.columns if key is None else self.extra[key]
        return _csv_text(table)


def _csv_text(table: Mapping[str, Array]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = list(table)
    writer.writerow(names)
    cols = [np.asarray(table[n], dtype=np.float64) for n in names]
    for i in range(len(cols[0]) if cols else 0):
        writer.writerow([_fmt(float(c[i])) for c in cols])
    return buf.getvalue()


def _fmt(x: float) -> str:
    return format(x, f".{CSV_DIGITS}g")


def _styled() -> Any:
    """``matplotlib.rc_context`` with :data:`STYLE` (global rcParams are restored on exit)."""
    return mpl.rc_context(cast(Any, STYLE))


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only for interactive use; write_all never uses pyplot

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _new_figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def _thousands(n: int) -> str:
    """``200\\,000``: mathtext renders a plain comma with a space after it."""
    return f"{int(n):,}".replace(",", r"\,")


def _b_label(b: float) -> str:
    return f"$b = {b:g}$"


# ----------------------------------------------------------------------------------------
# Fig. 1: the binarizer and its backward model
# ----------------------------------------------------------------------------------------


def binarizer_data(*, omega0: float = np.pi, w_max: float = 3.0, num: int = 1201) -> FigureData:
    r"""Eq. (1)–(2) of Vargas et al. (2024): sign(w), sign(sin ω₀w), sin ω₀w, ω₀ cos ω₀w.

    Parameters
    ----------
    omega0 : float
        Frequency ω₀ in (0, inf); the default π gives the period :math:`T = 2\pi/\omega_0 = 2`.
    w_max : float
        Half-width of the plotted range of w, in (0, inf).
    num : int
        Number of grid points, at least 3.

    Returns
    -------
    FigureData
        ``fig1_binarizer``: columns ``w``, ``sign``, ``square_wave``, ``surrogate`` and
        ``surrogate_derivative``.
    """
    if not (np.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
    if not (np.isfinite(w_max) and w_max > 0):
        raise ValueError(f"w_max must be finite and in (0, inf); got {w_max!r}")
    if num < 3:
        raise ValueError(f"num must be an integer >= 3; got {num!r}")
    w = np.linspace(-w_max, w_max, num)
    x = omega0 * w
    return FigureData(
        name="fig1_binarizer",
        columns={
            "w": w,
            "sign": np.sign(w),  # eq. (1) with ω₀ → 0: the usual binarizer
            "square_wave": np.sign(np.sin(x)),  # eq. (1): w_q = sign(sin(ω₀ w))
            "surrogate": np.sin(x),  # ŵ = sin(ω₀ w), the backward model
            "surrogate_derivative": omega0 * np.cos(x),  # eq. (2): dŵ/dw = ω₀ cos(ω₀ w)
        },
        params={"omega0": float(omega0), "w_max": float(w_max)},
    )


def binarizer(fig: Figure | None = None, *, data: FigureData | None = None) -> Figure:
    """Fig. 1: (a) sign(w); (b) the square wave sign(sin ω₀w) and its surrogate sin ω₀w;
    (c) the surrogate derivative ω₀ cos ω₀w used in the backward pass.

    Parameters
    ----------
    fig : matplotlib Figure, optional
        Figure to draw three panels in; a new one (pyplot) when None.
    data : FigureData, optional
        Output of :func:`binarizer_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Figure
        ``fig``, or the new Figure.
    """
    d = binarizer_data() if data is None else data
    c = d.columns
    w0 = d.params["omega0"]
    with _styled():
        fig = _new_figure(fig, (9.0, 2.7))
        axs = fig.subplots(1, 3, sharex=True)
        axs[0].plot(c["w"], c["sign"], color=_COLORS[0], label=r"$\mathrm{sign}(w)$")
        axs[0].set_title("(a) sign function")
        axs[1].plot(c["w"], c["square_wave"], color=_COLORS[0], label=r"$\mathrm{sign}(\sin\omega_0 w)$")
        axs[1].plot(c["w"], c["surrogate"], color=_COLORS[1], ls="--", label=r"$\sin\omega_0 w$")
        axs[1].set_title("(b) binary periodic function (forward)")
        axs[2].plot(c["w"], c["surrogate_derivative"], color=_COLORS[2], label=r"$\omega_0\cos\omega_0 w$")
        axs[2].set_title("(c) surrogate derivative (backward)")
        for ax in axs[:2]:
            ax.set_ylim(-1.45, 1.75)
        axs[2].set_ylim(-1.2 * w0, 1.55 * w0)
        for ax in axs:
            ax.set_xlabel("$w$")
            ax.axhline(0.0, color="0.5", lw=0.6)
            ax.legend(loc="upper left", ncols=2)
        axs[0].set_ylabel("value")
        fig.suptitle(
            rf"BiPer binarizer, $\omega_0 = {w0:.4g}$ (period $T = 2\pi/\omega_0 = {2 * np.pi / w0:.4g}$)",
            fontsize=9,
        )
    return fig


# ----------------------------------------------------------------------------------------
# Fig. 2: the density of ŵ
# ----------------------------------------------------------------------------------------


def _theta_grid(num: int) -> Array:
    # ŵ = sin θ with θ uniform on (-π/2, π/2): points crowd towards ±1 where the pdf turns up.
    theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, num + 2)[1:-1]
    return np.sin(theta)


def pdf_w_hat_data(
    *,
    b: Sequence[float] = FIG2_B,
    omega0: float = 1.0,
    num: int = 801,
    mc_samples: int = 0,
    bins: int = 50,
    rng: Any = None,
) -> FigureData:
    r"""Corrected eq. (4) of Vargas et al. (2024) on a grid, for several b at fixed ω₀.

    Parameters
    ----------
    b : sequence of float
        Laplace scales, each in (0, inf).
    omega0 : float
        Frequency in (0, inf); the paper uses 1.
    num : int
        Grid points in (-1, 1), spaced uniformly in arcsin ŵ.
    mc_samples : int
        Samples per b for a histogram overlay (:func:`biper_theory.montecarlo.sample`);
        0 for none.
    bins : int
        Histogram bins on [-1, 1], at least 2, of equal width in arcsin ŵ: narrow near ±1,
        where the density turns up, so each bin's average stays close to the pdf at the
        bin's centre (the arcsine of its midpoint), where the dot is drawn.
    rng : seed or Generator
        Anything :func:`numpy.random.default_rng` accepts; required when ``mc_samples > 0``.

    Returns
    -------
    FigureData
        ``fig2_pdf``: columns ``w_hat`` and ``pdf_b=<b>``; with ``mc_samples > 0`` an extra
        ``histogram`` table (``left``, ``right``, ``center``, and per b the sampled
        ``density_b=<b>`` and the exact bin average ``exact_b=<b>`` from the cdf).
    """
    bs = [float(x) for x in b]
    if num < 3:
        raise ValueError(f"num must be an integer >= 3; got {num!r}")
    if mc_samples < 0:
        raise ValueError(f"mc_samples must be an integer >= 0; got {mc_samples!r}")
    y = _theta_grid(num)
    cols: dict[str, Array] = {"w_hat": y}
    for bi in bs:
        cols[f"pdf_b={bi:g}"] = cf.pdf(y, b=bi, omega0=omega0)
    extra: dict[str, dict[str, Array]] = {}
    params: dict[str, Any] = {"b": bs, "omega0": float(omega0), "mc_samples": int(mc_samples)}
    if mc_samples:
        if rng is None:
            raise ValueError("rng must be given (seed or Generator) when mc_samples > 0")
        from . import montecarlo

        if bins < 2:
            raise ValueError(f"bins must be an integer >= 2; got {bins!r}")
        theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, bins + 1)
        edges = np.sin(theta)
        edges[0], edges[-1] = -1.0, 1.0  # exactly, so no sample falls outside
        hist: dict[str, Array] = {
            "left": edges[:-1],
            "right": edges[1:],
            "center": np.sin(0.5 * (theta[:-1] + theta[1:])),
        }
        for bi, child in zip(bs, np.random.default_rng(rng).spawn(len(bs)), strict=True):
            s = np.asarray(montecarlo.sample(mc_samples, a=bi * omega0, rng=child), dtype=np.float64)
            dens, _ = np.histogram(s, bins=edges, density=True)
            hist[f"density_b={bi:g}"] = dens
            # exact bin average of the pdf, from the cdf: what the histogram estimates
            hist[f"exact_b={bi:g}"] = np.diff(cf.cdf(edges, b=bi, omega0=omega0)) / np.diff(edges)
        extra["histogram"] = hist
        params["bins"] = int(bins)
    return FigureData(name="fig2_pdf", columns=cols, extra=extra, params=params)


def pdf_w_hat(ax: Axes | None = None, *, data: FigureData | None = None, ymax: float = 2.9) -> Axes:
    """Fig. 2: density of ŵ = sin(ω₀w) for Laplace w, one curve per b, with the
    Monte-Carlo histogram (dots at bin centres) when ``data`` carries one.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Axes to draw in; a new figure (pyplot) when None.
    data : FigureData, optional
        Output of :func:`pdf_w_hat_data`; computed with its defaults when None.
    ymax : float
        Upper limit of the density axis (the density diverges at ±1).

    Returns
    -------
    matplotlib Axes
        ``ax``, or the new Axes.
    """
    d = pdf_w_hat_data() if data is None else data
    c = d.columns
    hist = d.extra.get("histogram")
    with _styled():
        ax = _new_axes(ax, (5.2, 3.6))
        for i, bi in enumerate(d.params["b"]):
            color = _COLORS[i % len(_COLORS)]
            ax.plot(c["w_hat"], c[f"pdf_b={bi:g}"], color=color, label=_b_label(bi))
            if hist is not None:
                ax.plot(hist["center"], hist[f"density_b={bi:g}"], "o", ms=2.6, color=color, alpha=0.8)
        if hist is not None:
            ax.plot(
                [],
                [],
                "o",
                ms=2.6,
                color="0.3",
                label=f"MC histogram\n($n = {_thousands(d.params['mc_samples'])}$)",
            )
        ax.set_xlim(-1.0, 1.0)
        ax.set_ylim(0.0, ymax)
        ax.set_xlabel(r"$\hat w = \sin(\omega_0 w)$")
        ax.set_ylabel(r"$f_{\hat W}(\hat w)$")
        ax.set_title(rf"Density of $\hat w$, Laplace $w$, $\omega_0 = {d.params['omega0']:g}$")
        ax.legend(loc="upper center", ncols=3, fontsize=7.5)
    return ax


# ----------------------------------------------------------------------------------------
# Fig. 3: QE at the optimal γ versus ω₀
# ----------------------------------------------------------------------------------------


def qe_vs_omega0_data(
    *, b: Sequence[float] = FIG3_B, omega0_min: float = 0.1, omega0_max: float = 1e4, num: int = 601
) -> FigureData:
    r"""Eq. (7) with eq. (8) of Vargas et al. (2024): :math:`QE^*` versus ω₀ for several b.

    The main table has one column per b on a log grid of ω₀; the ``peaks`` table gives
    each curve's maximum, at :math:`\omega_0 = a^*/b` (:func:`biper_theory.closed_form.qe_peak`).

    Parameters
    ----------
    b : sequence of float
        Laplace scales, each in (0, inf).
    omega0_min, omega0_max : float
        Range of ω₀, with 0 < omega0_min < omega0_max < inf (log-spaced grid).
    num : int
        Number of grid points, at least 2.

    Returns
    -------
    FigureData
        ``fig3_qe_vs_omega0``: columns ``omega0`` and ``qe_b=<b>``; extra table ``peaks``
        (``b``, ``omega0_peak``, ``qe_peak``).
    """
    bs = [float(x) for x in b]
    if not (0 < omega0_min < omega0_max < np.inf):
        raise ValueError(f"need 0 < omega0_min < omega0_max < inf; got {omega0_min!r}, {omega0_max!r}")
    w = np.geomspace(omega0_min, omega0_max, num)
    cols: dict[str, Array] = {"omega0": w}
    for bi in bs:
        cols[f"qe_b={bi:g}"] = cf.quantization_error(b=bi, omega0=w)
    a_star, qe_star = cf.qe_peak()
    barr = np.asarray(bs)
    peaks = {
        "b": barr,
        "omega0_peak": a_star / barr,
        "qe_peak": cf.quantization_error(b=barr, omega0=a_star / barr),
    }
    return FigureData(
        name="fig3_qe_vs_omega0",
        columns=cols,
        extra={"peaks": peaks},
        params={"b": bs, "a_star": a_star, "qe_star": qe_star, "qe_limit": cf.QE_LIMIT_LARGE_A},
    )


def qe_vs_omega0(ax: Axes | None = None, *, data: FigureData | None = None) -> Axes:
    """Fig. 3: :math:`QE^*` versus ω₀ (log axis) for several b, each curve's peak at
    ω₀ = a*/b marked, the large-ω₀ limit 1/2 − 4/π² drawn, and the paper's ω₀ = 20.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Axes to draw in; a new figure (pyplot) when None.
    data : FigureData, optional
        Output of :func:`qe_vs_omega0_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Axes
        ``ax``, or the new Axes.
    """
    d = qe_vs_omega0_data() if data is None else data
    c = d.columns
    pk = d.extra["peaks"]
    with _styled():
        ax = _new_axes(ax, (5.2, 3.6))
        for i, bi in enumerate(d.params["b"]):
            color = _COLORS[i % len(_COLORS)]
            ax.plot(c["omega0"], c[f"qe_b={bi:g}"], color=color, label=_b_label(bi))
            ax.plot(pk["omega0_peak"][i], pk["qe_peak"][i], "v", color=color, ms=6, mec="k", mew=0.5)
        ax.axhline(d.params["qe_limit"], color="0.3", ls="--", lw=1.0, label=r"$1/2 - 4/\pi^2$")
        ax.axvline(PAPER_OMEGA0, color="0.5", ls=":", lw=1.0, label=r"paper's $\omega_0 = 20$")
        ax.plot(
            [],
            [],
            "v",
            color="0.6",
            mec="k",
            mew=0.5,
            label=rf"peak at $\omega_0 = {d.params['a_star']:.4f}/b$",
        )
        ax.set_xscale("log")
        ax.set_xlim(c["omega0"][0], c["omega0"][-1])
        ax.set_ylim(0.0, 0.115)
        ax.set_xlabel(r"frequency $\omega_0$")
        ax.set_ylabel(r"$QE^*$ (at $\gamma = \gamma^*$)")
        ax.set_title(rf"Quantization error versus $\omega_0$; maximum ${d.params['qe_star']:.6f}$")
        ax.legend(loc="lower right", fontsize=7.5)
    return ax


# ----------------------------------------------------------------------------------------
# Beyond the paper
# ----------------------------------------------------------------------------------------


def _a_grid(a_min: float, a_max: float, num: int) -> Array:
    if not (0 < a_min < a_max < np.inf):
        raise ValueError(f"need 0 < a_min < a_max < inf; got {a_min!r}, {a_max!r}")
    if num < 2:
        raise ValueError(f"num must be an integer >= 2; got {num!r}")
    return np.geomspace(a_min, a_max, num)


def normalized_qe_sqnr_data(*, a_min: float = 1e-3, a_max: float = 1e3, num: int = 601) -> FigureData:
    r"""Not in the paper: :math:`QE^*/E\hat w^2` and :math:`10\log_{10}(E\hat w^2/QE^*)` versus a.

    Parameters
    ----------
    a_min, a_max : float
        Range of :math:`a = b\omega_0`, with 0 < a_min < a_max < inf (log-spaced grid).
    num : int
        Number of grid points, at least 2.

    Returns
    -------
    FigureData
        ``fig4_normalized_qe_sqnr``: columns ``a``, ``normalized_qe`` and ``sqnr_db``.
    """
    a = _a_grid(a_min, a_max, num)
    return FigureData(
        name="fig4_normalized_qe_sqnr",
        columns={
            "a": a,
            "normalized_qe": cf.normalized_quantization_error(a=a),
            "sqnr_db": cf.sqnr_db(a=a),
        },
        params={"small_a_limit": 0.5, "large_a_limit": 1.0 - 8.0 / np.pi**2},
    )


def normalized_qe_sqnr(fig: Figure | None = None, *, data: FigureData | None = None) -> Figure:
    """Not in the paper: normalized QE (left) and SQNR in dB (right) versus a = bω₀, with
    the limits 1/2 (a → 0) and 1 − 8/π² (a → ∞).

    Parameters
    ----------
    fig : matplotlib Figure, optional
        Figure to draw the panels in; a new one (pyplot) when None.
    data : FigureData, optional
        Output of :func:`normalized_qe_sqnr_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Figure
        ``fig``, or the new Figure.
    """
    d = normalized_qe_sqnr_data() if data is None else data
    c = d.columns
    lo, hi = d.params["small_a_limit"], d.params["large_a_limit"]
    with _styled():
        fig = _new_figure(fig, (8.0, 3.0))
        ax1, ax2 = fig.subplots(1, 2, sharex=True)
        ax1.plot(c["a"], c["normalized_qe"], color=_COLORS[0], label=r"$QE^*/E\hat w^2$")
        ax1.axhline(lo, color="0.4", ls="--", lw=1.0, label=r"$1/2$ ($a\to0$)")
        ax1.axhline(hi, color="0.4", ls=":", lw=1.0, label=r"$1 - 8/\pi^2$ ($a\to\infty$)")
        ax1.set_ylim(0.0, 0.6)
        ax1.set_ylabel("normalized QE")
        ax1.set_title("(a) QE relative to the signal power")
        ax2.plot(c["a"], c["sqnr_db"], color=_COLORS[1], label="SQNR")
        ax2.axhline(-10 * np.log10(lo), color="0.4", ls="--", lw=1.0, label=rf"${-10 * np.log10(lo):.2f}$ dB")
        ax2.axhline(-10 * np.log10(hi), color="0.4", ls=":", lw=1.0, label=rf"${-10 * np.log10(hi):.2f}$ dB")
        ax2.set_ylim(2.0, 8.5)
        ax2.set_ylabel(r"SQNR $= 10\log_{10}(E\hat w^2/QE^*)$ [dB]")
        ax2.set_title("(b) signal-to-quantization-noise ratio")
        ax1.legend(loc="lower left")
        ax2.legend(loc="lower right")
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_xlim(c["a"][0], c["a"][-1])
            ax.set_xlabel(r"$a = b\,\omega_0$")
    return fig


def qe_vs_l1_data(*, a_min: float = 1e-2, a_max: float = 1e2, num: int = 601) -> FigureData:
    r"""Not in the paper: :math:`QE^*` (eq. 7–8) and the official code's
    :math:`E|\hat w - \mathrm{sign}\,\hat w| = 1 - \gamma^*` versus a.

    Parameters
    ----------
    a_min, a_max : float
        Range of :math:`a = b\omega_0`, with 0 < a_min < a_max < inf (log-spaced grid).
    num : int
        Number of grid points, at least 2.

    Returns
    -------
    FigureData
        ``fig5_qe_vs_l1``: columns ``a``, ``qe`` and ``l1_qe``.
    """
    a = _a_grid(a_min, a_max, num)
    a_star, qe_star = cf.qe_peak()
    return FigureData(
        name="fig5_qe_vs_l1",
        columns={
            "a": a,
            "qe": cf.quantization_error(a=a),
            "l1_qe": cf.l1_quantization_error(a=a),
        },
        params={
            "a_star": a_star,
            "qe_star": qe_star,
            "qe_limit": cf.QE_LIMIT_LARGE_A,
            "l1_limit": 1.0 - cf.GAMMA_LIMIT_LARGE_A,
        },
    )


def qe_vs_l1(fig: Figure | None = None, *, data: FigureData | None = None) -> Figure:
    """Not in the paper: the paper's QE* has an interior maximum at a* (left); the L1 "QE"
    reported by the official BiPer code, 1 − γ*, decreases monotonically (right).

    Parameters
    ----------
    fig : matplotlib Figure, optional
        Figure to draw the panels in; a new one (pyplot) when None.
    data : FigureData, optional
        Output of :func:`qe_vs_l1_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Figure
        ``fig``, or the new Figure.
    """
    d = qe_vs_l1_data() if data is None else data
    c = d.columns
    p = d.params
    with _styled():
        fig = _new_figure(fig, (8.0, 3.0))
        ax1, ax2 = fig.subplots(1, 2, sharex=True)
        ax1.plot(c["a"], c["qe"], color=_COLORS[0], label=r"$QE^*$")
        ax1.plot(
            p["a_star"],
            p["qe_star"],
            "v",
            color=_COLORS[0],
            mec="k",
            mew=0.5,
            ms=6,
            label=rf"max ${p['qe_star']:.6f}$" "\n" rf"at $a^* = {p['a_star']:.6f}$",
        )
        ax1.axhline(p["qe_limit"], color="0.4", ls="--", lw=1.0, label=r"$1/2 - 4/\pi^2$")
        ax1.set_ylim(0.0, 0.125)
        ax1.set_ylabel(r"$QE^*$")
        ax1.set_title("(a) paper's QE (eq. 7 at eq. 8): interior maximum")
        ax1.legend(loc="lower right")
        ax2.plot(
            c["a"], c["l1_qe"], color=_COLORS[1], label=r"$E|\hat w - \mathrm{sign}\,\hat w| = 1 - \gamma^*$"
        )
        ax2.axhline(p["l1_limit"], color="0.4", ls="--", lw=1.0, label=r"$1 - 2/\pi$")
        ax2.set_ylim(0.0, 1.05)
        ax2.set_ylabel(r"L1 QE")
        ax2.set_title('(b) official code\'s L1 "QE": monotone')
        ax2.legend(loc="lower left")
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_xlim(c["a"][0], c["a"][-1])
            ax.set_xlabel(r"$a = b\,\omega_0$")
    return fig


def sign_flip_data(*, a_min: float = 0.1, a_max: float = 100.0, num: int = 601) -> FigureData:
    r"""Not in the paper: :math:`P[\mathrm{sign}\sin(\omega_0 W) \ne \mathrm{sign}\,W] = 1/(1+e^{\pi/a})`.

    Parameters
    ----------
    a_min, a_max : float
        Range of :math:`a = b\omega_0`, with 0 < a_min < a_max < inf (log-spaced grid).
    num : int
        Number of grid points, at least 2.

    Returns
    -------
    FigureData
        ``fig6_sign_flip``: columns ``a`` and ``sign_flip_probability``.
    """
    a = _a_grid(a_min, a_max, num)
    return FigureData(
        name="fig6_sign_flip",
        columns={"a": a, "sign_flip_probability": cf.sign_flip_probability(a=a)},
        params={"paper_a": 1.0, "paper_p": float(cf.sign_flip_probability(b=0.05, omega0=PAPER_OMEGA0))},
    )


def sign_flip(ax: Axes | None = None, *, data: FigureData | None = None) -> Axes:
    """Not in the paper: the share of weights whose BiPer bit differs from sign(w), versus a,
    with the limit 1/2 and the point b = 0.05, ω₀ = 20 (a = 1) marked.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Axes to draw in; a new figure (pyplot) when None.
    data : FigureData, optional
        Output of :func:`sign_flip_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Axes
        ``ax``, or the new Axes.
    """
    d = sign_flip_data() if data is None else data
    c = d.columns
    with _styled():
        ax = _new_axes(ax, (5.2, 3.4))
        ax.plot(c["a"], c["sign_flip_probability"], color=_COLORS[0], label=r"$1/(1 + e^{\pi/a})$")
        ax.axhline(0.5, color="0.4", ls="--", lw=1.0, label=r"$1/2$ ($a\to\infty$)")
        ax.plot(
            d.params["paper_a"],
            d.params["paper_p"],
            "o",
            color=_COLORS[1],
            mec="k",
            mew=0.5,
            label=rf"$b = 0.05,\ \omega_0 = 20$: ${d.params['paper_p']:.4f}$",
        )
        ax.set_xscale("log")
        ax.set_xlim(c["a"][0], c["a"][-1])
        ax.set_ylim(0.0, 0.55)
        ax.set_xlabel(r"$a = b\,\omega_0$")
        ax.set_ylabel(r"$P[\mathrm{sign}\,\sin\omega_0 w \neq \mathrm{sign}\,w]$")
        ax.set_title("Weights whose BiPer bit differs from sign(w)")
        ax.legend(loc="lower right")
    return ax


#: (column stem, label, closed-form function) for the Monte-Carlo comparison.
_MC_QUANTITIES: tuple[tuple[str, str, Callable[..., Array]], ...] = (
    ("second_moment", r"$E\hat w^2$", cf.second_moment),
    ("optimal_gamma", r"$\gamma^* = E|\hat w|$", cf.optimal_gamma),
    ("quantization_error", r"$QE^*$", cf.quantization_error),
    ("sign_flip_probability", r"$P[\mathrm{sign}\,\hat w \neq \mathrm{sign}\,w]$", cf.sign_flip_probability),
)


def analysis_vs_montecarlo_data(
    *,
    a: npt.ArrayLike | None = None,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    rng: Any = DEFAULT_MC_SEED,
    chunk_size: int = 1 << 16,
) -> FigureData:
    r"""Not in the paper: closed forms against :func:`biper_theory.montecarlo.estimate`.

    For each a, one independent stream (spawned from ``rng``) gives the estimates and
    their standard errors SE; columns ``<q>_exact``, ``<q>_mc``, ``<q>_se`` for
    :math:`E\hat w^2`, :math:`\gamma^*`, :math:`QE^*` and the sign-flip probability.
    The default a grid, 13 points from 0.5 to 50, keeps the sign-flip count large
    enough (≥ 300 at 2·10⁵ samples) for its SE to mean something.

    Parameters
    ----------
    a : array_like, optional
        Values of :math:`a = b\omega_0`, each in (0, inf); the default grid when None.
    mc_samples : int
        Samples per a, at least 2.
    rng : seed or Generator
        Anything :func:`numpy.random.default_rng` accepts; one child stream per a.
    chunk_size : int
        Samples drawn at a time (memory only; the estimates do not depend on it).

    Returns
    -------
    FigureData
        ``fig7_analysis_vs_montecarlo``: column ``a`` and ``<q>_exact``, ``<q>_mc``,
        ``<q>_se`` for each quantity.
    """
    from . import montecarlo

    aa = np.geomspace(0.5, 50.0, 13) if a is None else np.asarray(a, dtype=np.float64).ravel()
    if mc_samples < 2:
        raise ValueError(f"mc_samples must be an integer >= 2; got {mc_samples!r}")
    cols: dict[str, Array] = {"a": aa}
    for stem, _, fn in _MC_QUANTITIES:
        cols[f"{stem}_exact"] = fn(a=aa)
    mc = {stem: np.empty_like(aa) for stem, _, _ in _MC_QUANTITIES}
    se = {stem: np.empty_like(aa) for stem, _, _ in _MC_QUANTITIES}
    for i, child in enumerate(np.random.default_rng(rng).spawn(aa.size)):
        res = montecarlo.estimate(a=float(aa[i]), n=mc_samples, rng=child, chunk_size=chunk_size)
        for stem, _, _ in _MC_QUANTITIES:
            est = getattr(res, stem)
            mc[stem][i] = est.value
            se[stem][i] = est.se
    for stem, _, _ in _MC_QUANTITIES:
        cols[f"{stem}_mc"] = mc[stem]
        cols[f"{stem}_se"] = se[stem]
    return FigureData(
        name="fig7_analysis_vs_montecarlo",
        columns=cols,
        params={"mc_samples": int(mc_samples)},
    )


def analysis_vs_montecarlo(fig: Figure | None = None, *, data: FigureData | None = None) -> Figure:
    """Not in the paper: relative deviation (MC − exact)/exact for four quantities, with
    the bands ±1.96 SE (95 %) and ±3 SE (99.7 %) that the points should fall in.

    Parameters
    ----------
    fig : matplotlib Figure, optional
        Figure to draw the panels in; a new one (pyplot) when None.
    data : FigureData, optional
        Output of :func:`analysis_vs_montecarlo_data`; computed with its defaults when None.

    Returns
    -------
    matplotlib Figure
        ``fig``, or the new Figure.
    """
    d = analysis_vs_montecarlo_data() if data is None else data
    c = d.columns
    a = c["a"]
    with _styled():
        fig = _new_figure(fig, (8.0, 5.2))
        axs = fig.subplots(2, 2, sharex=True).ravel()
        for ax, (stem, label, _) in zip(axs, _MC_QUANTITIES, strict=True):
            exact = c[f"{stem}_exact"]
            rel = (c[f"{stem}_mc"] - exact) / exact
            rse = c[f"{stem}_se"] / exact
            ax.fill_between(a, -3 * rse, 3 * rse, color=_COLORS[0], alpha=0.12, lw=0, label=r"$\pm 3\,$SE")
            ax.fill_between(
                a, -1.96 * rse, 1.96 * rse, color=_COLORS[0], alpha=0.25, lw=0, label=r"$\pm 1.96\,$SE"
            )
            ax.axhline(0.0, color="k", lw=0.8)
            ax.plot(a, rel, "o", color=_COLORS[1], ms=3.5, label="Monte Carlo")
            ax.set_xscale("log")
            ax.set_xlim(a[0] / 1.2, a[-1] * 1.2)
            lim = 1.15 * float(np.nanmax(np.abs(np.concatenate([3.4 * rse, rel]))))
            ax.set_ylim(-lim, lim)
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
            ax.set_title(f"{label}: (MC $-$ exact) / exact")
        for ax in axs[2:]:
            ax.set_xlabel(r"$a = b\,\omega_0$")
        handles, labels = axs[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
        fig.suptitle(
            rf"Closed forms versus Monte Carlo, $n = {_thousands(d.params['mc_samples'])}$ samples per $a$",
            fontsize=9,
        )
    return fig


# ----------------------------------------------------------------------------------------
# A trained model against the model: the figure of ``biper-theory pick-omega --plot``
# ----------------------------------------------------------------------------------------

#: Width and height (inches) of one layer's row in :func:`pick_omega_panels`.
PICK_OMEGA_ROW_SIZE: tuple[float, float] = (10.0, 2.8)
#: Most weights per layer that enter a histogram; larger layers are subsampled (seeded).
PICK_OMEGA_HIST_MAX = 200_000
#: Bins of the histogram of ŵ on [-1, 1] in :func:`pick_omega_panels`.
PICK_OMEGA_BINS = 80


def pick_omega_figsize(n_layers: int, columns: int = 2) -> tuple[float, float]:
    """Size in inches of :func:`pick_omega_panels` for ``n_layers`` rows (at least 1) of
    ``columns`` panels (2, or 3 with the phase panel)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be an integer >= 1; got {n_layers!r}")
    if columns not in (2, 3):
        raise ValueError(f"columns must be 2 or 3; got {columns!r}")
    width, height = PICK_OMEGA_ROW_SIZE
    return width * columns / 2, height * n_layers


def _plain(text: str) -> str:
    """``text`` shown literally by mathtext (a ``$`` in a layer name would open math)."""
    return text.replace("$", r"\$")


def pick_omega_panels(
    layers: Mapping[str, npt.ArrayLike],
    analyses: Mapping[str, LayerAnalysis],
    recommendation: Recommendation,
    *,
    omega0: float,
    fig: Figure | None = None,
    laws: Mapping[str, Law] | None = None,
) -> Figure:
    r"""Per layer: the measured ŵ = sin(ω₀w) against the model pdf, and QE* against ω₀.

    The figure of ``biper-theory pick-omega --plot``. Row *i* shows layer *i* of ``layers``:

    * left, the histogram (density, :data:`PICK_OMEGA_BINS` bins on [-1, 1]) of
      :math:`\hat w = \sin(\omega_0 w)` over the layer's weights, evaluated in float64, with
      the pdf of ŵ under the fitted Laplace law (corrected eq. (4) of Vargas et al. (2024),
      :func:`biper_theory.closed_form.pdf`) at :math:`b = \hat b`, drawn on 801 points of
      [-0.995, 0.995] (the pdf diverges at ±1). Layers of more than
      :data:`PICK_OMEGA_HIST_MAX` weights are subsampled without replacement from one
      stream seeded with 0, so the figure is reproducible;
    * right, :math:`QE^*` (eq. (7) at eq. (8), :func:`biper_theory.closed_form.quantization_error`)
      against ω₀ on a log axis at :math:`b = \hat b`, with vertical lines at the ω₀ in use
      (``gid="omega0-current"``), the recommended global ω₀ (``gid="omega0-recommended"``),
      the layer's own recommendation where it differs (``gid="omega0-layer"``) and the QE
      peak :math:`a^*/\hat b` (``gid="omega0-peak"``);
    * with ``laws``, a third panel: the histogram (density, :data:`PICK_OMEGA_PHASE_BINS`
      bins) of the phase :math:`\theta = ((\omega_0 w + \pi/2) \bmod \pi) - \pi/2`
      (:func:`biper_theory.phase.phase_histogram`) against the layer's law's density of θ
      (:func:`biper_theory.phase.phase_density`, ``gid="phase-model"``), titled with the
      crest share and the p-value of :func:`biper_theory.phase.phase_statistics`.

    :math:`\hat b` is the layer's Laplace scale from ``analyses`` (the b̂ the report
    prints); for per-channel analyses (one b̂ per channel) it is the layer-level
    maximum-likelihood b̂ (:func:`biper_theory.weights.fitted_scale`, with the location
    fixed or free as in the analysis).

    Parameters
    ----------
    layers : mapping of str to array_like
        Latent weights per layer (any shape, finite), in the order the rows are drawn.
    analyses : mapping of str to LayerAnalysis
        :func:`biper_theory.weights.analyze_layers` of ``layers`` at ``omega0``, one entry
        per key of ``layers``.
    recommendation : Recommendation
        :func:`biper_theory.select.recommend` for these layers; its ``per_layer`` entries
        are matched to layers by name (per-channel entries are not drawn).
    omega0 : float
        The ω₀ in use, in (0, inf).
    fig : matplotlib Figure, optional
        Figure to draw ``len(layers)`` × 2 (× 3 with ``laws``) panels in (its size is kept;
        see :func:`pick_omega_figsize`); a new one (pyplot) of that size when None.
    laws : mapping of str to Law, optional
        Per layer, the law the phase panel compares with (e.g. pick-omega's fitted law); with
        it every row gets a third panel, left blank for a layer without an entry.

    Returns
    -------
    matplotlib Figure
        ``fig``, or the new Figure, with ``2 * len(layers)`` Axes in row order.

    Raises
    ------
    ValueError
        If ``layers`` is empty, ``omega0`` is not finite and positive, or a layer has no
        entry in ``analyses``.

    References
    ----------
    .. [1] Vargas et al. (2024), Section 2.1, eqs. (4), (7), (8).
    """
    from . import weights

    names = [str(k) for k in layers]
    if not names:
        raise ValueError("layers must hold at least one layer; got none")
    if not (np.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
    missing = [n for n in names if n not in analyses]
    if missing:
        raise ValueError(f"analyses must have an entry per layer; missing {', '.join(map(repr, missing))}")
    rng = np.random.default_rng(0)
    a_star = cf.qe_peak()[0]
    grid_y = np.linspace(-0.995, 0.995, 801)
    columns = 3 if laws else 2
    with _styled():
        fig = _new_figure(fig, pick_omega_figsize(len(names), columns))
        axes = fig.subplots(len(names), columns, squeeze=False)
        for row, (key, name) in enumerate(zip(layers, names, strict=True)):
            an = analyses[name]
            w = np.asarray(layers[key]).reshape(-1)
            if np.size(an.b) == 1:
                b = float(np.asarray(an.b).reshape(-1)[0])
            else:  # per-channel analysis: the layer-level b̂, same location convention
                b = weights.fitted_scale(w, fix_loc=an.fits.laplace.loc_fixed)
            n_all = w.size
            if n_all > PICK_OMEGA_HIST_MAX:  # a seeded subsample is plenty for a histogram
                w = w[np.sort(rng.choice(w.size, PICK_OMEGA_HIST_MAX, replace=False))]
            shown = _plain(name)

            ax = axes[row, 0]
            s = np.sin(omega0 * w.astype(np.float64))  # ŵ = sin(ω₀ w), the backward model
            dens, edges = np.histogram(s, bins=PICK_OMEGA_BINS, range=(-1.0, 1.0), density=True)
            ax.stairs(
                dens,
                edges,
                fill=True,
                color=_COLORS[0],
                alpha=0.45,
                label=rf"measured, $n = {_thousands(s.size)}$"
                + ("" if s.size == n_all else rf" of ${_thousands(n_all)}$"),
            )
            pdf = cf.pdf(grid_y, b=b, omega0=omega0)  # corrected eq. (4) at b = b̂
            ax.plot(
                grid_y,
                pdf,
                color=_COLORS[1],
                gid="model-pdf",
                label=rf"model pdf, $\hat b = {b:.3g}$ ($a = {b * omega0:.3g}$)",
            )
            ax.set_xlim(-1.0, 1.0)
            # room for the legend above the histogram and the model's interior (the pdf
            # diverges at ±1, so its ends are left to leave the frame where they must)
            top = max(float(dens.max()), float(pdf[np.abs(grid_y) <= 0.9].max()), 1.0)
            ax.set_ylim(0.0, 1.45 * top)
            ax.set_xlabel(r"$\hat w = \sin(\omega_0 w)$")
            ax.set_ylabel("density")
            ax.set_title(rf"{shown}: weights through $\sin(\omega_0 w)$, $\omega_0 = {omega0:.3g}$")
            ax.legend(loc="upper center", ncols=2, fontsize=7.5)

            ax = axes[row, 1]
            lr = recommendation.per_layer.get(name)
            marks = [omega0, recommendation.omega0] + ([lr.omega0] if lr is not None else [])
            lo = min(0.02 * a_star / b, 0.5 * min(marks))
            hi = max(50.0 * a_star / b, 2.0 * max(marks))
            grid_w = np.geomspace(lo, hi, 400)
            qe = cf.quantization_error(b=b, omega0=grid_w)  # QE* = E ŵ² − γ*², eqs. (7)–(8)
            ax.plot(grid_w, qe, color=_COLORS[0], label=r"$QE^*$ (eqs. 7–8)")
            # dashed and on top: it stays visible where the recommendation coincides with it
            ax.axvline(
                omega0,
                color="k",
                ls="--",
                lw=1.0,
                zorder=3,
                gid="omega0-current",
                label=f"in use {omega0:.3g}",
            )
            ax.axvline(
                recommendation.omega0,
                color=_COLORS[1],
                lw=1.2,
                gid="omega0-recommended",
                label=f"recommended {recommendation.omega0:.3g}",
            )
            if lr is not None and not np.isclose(lr.omega0, recommendation.omega0, rtol=1e-9, atol=0.0):
                ax.axvline(
                    lr.omega0,
                    color=_COLORS[2],
                    ls=":",
                    lw=1.2,
                    gid="omega0-layer",
                    label=f"this layer {lr.omega0:.3g}",
                )
            ax.axvline(
                a_star / b, color="0.6", ls="-.", lw=0.8, gid="omega0-peak", label=r"QE peak $a^*/\hat b$"
            )
            ax.set_xscale("log")
            ax.set_xlim(lo, hi)
            ax.set_ylim(0.0, 1.45 * float(np.max(qe)))
            ax.set_xlabel(r"frequency $\omega_0$")
            ax.set_ylabel(r"$QE^*$")
            ax.set_title(rf"{shown}: $QE^*$ against $\omega_0$ ({recommendation.criterion})")
            ax.legend(loc="upper left", ncols=3, fontsize=7.5)
            if laws and name in laws:
                _phase_panel(axes[row, 2], np.asarray(layers[key]).reshape(-1), laws[name], omega0, shown)
            elif laws:
                axes[row, 2].set_axis_off()
    return fig


#: Bins of the phase histogram on [-π/2, π/2] in :func:`pick_omega_panels`.
PICK_OMEGA_PHASE_BINS = 60


def _phase_panel(ax: Axes, w: np.ndarray, law: Law, omega0: float, shown: str) -> None:
    """Phase histogram of one layer against its law's density of θ (all weights, float64)."""
    from . import phase

    edges, dens = phase.phase_histogram(w, omega0=omega0, bins=PICK_OMEGA_PHASE_BINS)
    ax.stairs(dens, edges, fill=True, color=_COLORS[0], alpha=0.45, label="measured")
    theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 803)[1:-1]
    ax.plot(
        theta,
        phase.phase_density(law, theta, omega0=omega0),
        color=_COLORS[1],
        gid="phase-model",
        label=f"{law.name} law",
    )
    ps = phase.phase_statistics(w, omega0=omega0, law=law)
    ax.set_xlim(-0.5 * np.pi, 0.5 * np.pi)
    ax.set_ylim(0.0, 1.45 * max(float(dens.max()), 1.0 / np.pi))
    ax.set_xlabel(r"phase $\theta = \omega_0 w$ mod $\pi$ (0: $\hat w = 0$, $\pm\pi/2$: crests)")
    ax.set_ylabel("density")
    ax.set_title(
        rf"{shown}: crest share {ps.crest_share:.3f} (model {ps.crest_share_model:.3f}), "
        rf"$p = {ps.p_value:.2g}$"
    )
    ax.legend(loc="upper center", ncols=2, fontsize=7.5)


def save_figure(fig: Figure, path: str | Path, *, format: str | None = None) -> Path:
    """Save ``fig`` to ``path`` atomically in the house style, without timestamps.

    The style (:data:`STYLE`: dpi, fonts) is applied while saving, as :func:`write_all`
    does, and the file is written through :func:`biper_theory._io.atomic_path`, so an error
    never leaves a half-written file. PDF files carry no creation date and PNG files no
    software tag, so a rerun gives the same bytes.

    Parameters
    ----------
    fig : matplotlib Figure
        The figure to save.
    path : str or Path
        Destination; its folder is created if missing.
    format : str, optional
        A format matplotlib writes (``"png"``, ``"pdf"``, ``"svg"``, ...); taken from the
        suffix of ``path`` when None.

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    ext = (format or target.suffix.lstrip(".")).lower()
    if not ext:
        raise ValueError(f"format must be given when path has no suffix; got path {str(target)!r}")
    meta: dict[str, Any] = {
        "pdf": {"CreationDate": None},
        "png": {"Software": None},
        "svg": {"Date": None},
    }.get(ext, {})
    with _styled(), atomic_path(target) as tmp:
        fig.savefig(tmp, format=ext, metadata=meta or None)
    return target


# ----------------------------------------------------------------------------------------
# Registry and writer
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    """How :func:`write_all` builds one figure: data function, drawing function, size."""

    name: str
    data: Callable[..., FigureData]
    draw: Callable[..., Any]
    figsize: tuple[float, float]
    panels: str  # "axes": draw(ax, data=...); "figure": draw(fig, data=...)
    uses_mc: bool = False


FIGURES: dict[str, FigureSpec] = {
    s.name: s
    for s in (
        FigureSpec("fig1_binarizer", binarizer_data, binarizer, (9.0, 2.7), "figure"),
        FigureSpec("fig2_pdf", pdf_w_hat_data, pdf_w_hat, (5.2, 3.6), "axes", uses_mc=True),
        FigureSpec("fig3_qe_vs_omega0", qe_vs_omega0_data, qe_vs_omega0, (5.2, 3.6), "axes"),
        FigureSpec(
            "fig4_normalized_qe_sqnr", normalized_qe_sqnr_data, normalized_qe_sqnr, (8.0, 3.0), "figure"
        ),
        FigureSpec("fig5_qe_vs_l1", qe_vs_l1_data, qe_vs_l1, (8.0, 3.0), "figure"),
        FigureSpec("fig6_sign_flip", sign_flip_data, sign_flip, (5.2, 3.4), "axes"),
        FigureSpec(
            "fig7_analysis_vs_montecarlo",
            analysis_vs_montecarlo_data,
            analysis_vs_montecarlo,
            (8.0, 5.2),
            "figure",
            uses_mc=True,
        ),
    )
}


def build(name: str, *, mc_seed: int = DEFAULT_MC_SEED, mc_samples: int = DEFAULT_MC_SAMPLES) -> FigureData:
    """The data of figure ``name`` as :func:`write_all` draws it.

    Parameters
    ----------
    name : str
        A key of :data:`FIGURES`.
    mc_seed : int
        Seed of the Monte-Carlo figures; each figure draws from its own child stream
        (``SeedSequence(mc_seed, spawn_key=(index,))``), so adding a figure never changes
        another's samples.
    mc_samples : int
        Samples per Monte-Carlo estimate or histogram.

    Returns
    -------
    FigureData
    """
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}; got {name!r}")
    spec = FIGURES[name]
    if not spec.uses_mc:
        return spec.data()
    # one stream per figure, so adding a figure never changes another's samples
    index = list(FIGURES).index(name)
    rng = np.random.default_rng(np.random.SeedSequence(mc_seed, spawn_key=(index,)))
    return spec.data(mc_samples=mc_samples, rng=rng)


def write_all(
    out_dir: str | Path = "figures",
    *,
    mc_seed: int = DEFAULT_MC_SEED,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    names: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write every figure (or those in ``names``) as PDF, PNG and CSV into ``out_dir``.

    Deterministic: Monte-Carlo draws use ``mc_seed``; the PDF carries no creation date and
    the PNG no timestamp, so a rerun reproduces the CSV files byte for byte and, with the
    same matplotlib and FreeType, the images too. Each file is written atomically.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder, created if missing; must not be an existing file.
    mc_seed : int
        Seed of the Monte-Carlo draws (see :func:`build`).
    mc_samples : int
        Samples per Monte-Carlo estimate or histogram, at least 2.
    names : sequence of str, optional
        Keys of :data:`FIGURES` to write; all when None.
    progress : callable, optional
        Called with each figure's name once its files are written.

    Returns
    -------
    list of Path
        The files written, in order.
    """
    if mc_samples < 2:
        raise ValueError(f"mc_samples must be an integer >= 2; got {mc_samples!r}")
    selected = list(FIGURES) if names is None else list(names)
    unknown = [n for n in selected if n not in FIGURES]
    if unknown:
        raise ValueError(f"names must be figures of {', '.join(FIGURES)}; got {unknown[0]!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder (existing or new); {str(out)!r} is a file")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in selected:
        data = build(name, mc_seed=mc_seed, mc_samples=mc_samples)
        spec = FIGURES[name]
        with _styled():
            fig = Figure(figsize=spec.figsize, layout="constrained")
            spec.draw(fig.add_subplot() if spec.panels == "axes" else fig, data=data)
            for ext in ("pdf", "png"):
                written.append(save_figure(fig, out / f"{name}.{ext}", format=ext))
        for fname, table in data.tables().items():
            written.append(atomic_write(out / fname, _csv_text(table)))
        if progress is not None:
            progress(name)
    return written


# ----------------------------------------------------------------------------------------
# Fig. 8: trained weights against the weight laws (``reproduce``'s trained-weights route)
# ----------------------------------------------------------------------------------------

#: Height (inches) of one layer's row and width of one panel in :func:`trained_weights`.
TRAINED_ROW_HEIGHT = 2.5
TRAINED_PANEL_WIDTH = 3.9


def _column(source: str, layer: str, what: str) -> str:
    return f"{source} {layer} {what}"


def trained_weights_data(findings: Any) -> FigureData:
    r"""The numbers of :func:`trained_weights`, from :func:`biper_theory.trained.analyze`.

    Three tables, one column per (source, layer, measured or law):

    * main (``fig8_trained_weights.csv``): per ŵ bin (:func:`biper_theory.trained.hat_w_bin_edges`,
      equal width in arcsin ŵ) its edges, the measured density (count / (n · width)) and each
      fitted law's (bin probability / width);
    * ``phase``: the same per bin of the phase θ (:func:`biper_theory.phase.phase`) on
      [-π/2, π/2), densities per radian;
    * ``pdf``: each law's pdf of ŵ on :func:`biper_theory.trained.pdf_grid`, the curves drawn.

    Parameters
    ----------
    findings : TrainedFindings
        With ``status == "done"``.

    Returns
    -------
    FigureData
        ``params`` holds the layer order (``rows``), the sources and the laws.
    """
    from . import trained as tr

    if findings.status != "done" or not findings.layers:
        raise ValueError(f"findings must be a completed analysis; got status {findings.status!r}")
    edges = tr.hat_w_bin_edges()
    width = np.diff(edges)
    p_edges = tr.phase_bin_edges()
    p_width = np.diff(p_edges)
    main: dict[str, Array] = {"bin_low": edges[:-1], "bin_high": edges[1:]}
    phase: dict[str, Array] = {"bin_low": p_edges[:-1], "bin_high": p_edges[1:]}
    pdf: dict[str, Array] = {"w_hat": tr.pdf_grid()}
    for lf in findings.layers:
        main[_column(lf.source, lf.layer, "measured")] = lf.hat_w_counts / (lf.n * width)
        phase[_column(lf.source, lf.layer, "measured")] = lf.phase_counts / (lf.n * p_width)
        for name, law in lf.laws.items():
            main[_column(lf.source, lf.layer, name)] = law.bin_probabilities / width
            phase[_column(lf.source, lf.layer, name)] = law.phase_probabilities / p_width
            pdf[_column(lf.source, lf.layer, name)] = law.pdf_curve
    return FigureData(
        name="fig8_trained_weights",
        columns=main,
        extra={"phase": phase, "pdf": pdf},
        params={
            "rows": [(lf.source, lf.layer) for lf in findings.layers],
            "sources": list(dict.fromkeys(lf.source for lf in findings.layers)),
            "laws": list(findings.laws),
            "n": {(lf.source, lf.layer): lf.n for lf in findings.layers},
            "omega0": {(lf.source, lf.layer): lf.omega0 for lf in findings.layers},
            "best": {(lf.source, lf.layer): lf.best_law for lf in findings.layers},
        },
    )


def trained_weights_figsize(n_layers: int, n_sources: int) -> tuple[float, float]:
    """Size in inches of :func:`trained_weights`: one row per layer, two panels per source."""
    if n_layers < 1 or n_sources < 1:
        raise ValueError(f"n_layers and n_sources must be integers >= 1; got {n_layers!r}, {n_sources!r}")
    return 2 * n_sources * TRAINED_PANEL_WIDTH, n_layers * TRAINED_ROW_HEIGHT + 0.4


def trained_weights(fig: Figure | None = None, *, data: FigureData) -> Figure:
    r"""Fig. 8 (not in the paper): trained latent weights against the fitted weight laws.

    One row per layer name, two panels per source (e.g. stage 1, stage 2):

    * the histogram of :math:`\hat w = \sin(\omega_0 w)` (density on a log axis; bins of
      equal width in arcsin ŵ, so the narrow bins next to ±1 resolve the divergence of every
      pdf of ŵ there) with the pdf of ŵ under each fitted law (``gid="pdf-<law>"``);
    * the histogram of the phase θ of :func:`biper_theory.phase.phase`
      (:math:`\omega_0 w` folded into [-π/2, π/2) modulo π: crests of the sine at ±π/2, its
      zero at 0) with each law's density of θ per bin
      (:func:`biper_theory.trained.law_phase_probabilities`; ``gid="phase-<law>"``).

    Parameters
    ----------
    fig : matplotlib Figure, optional
        Figure to draw in (see :func:`trained_weights_figsize`); a new one when None.
    data : FigureData
        :func:`trained_weights_data`.

    Returns
    -------
    matplotlib Figure
    """
    rows: list[tuple[str, str]] = data.params["rows"]
    sources: list[str] = data.params["sources"]
    laws: list[str] = data.params["laws"]
    layers = list(dict.fromkeys(layer for _, layer in rows))
    edges = np.append(data.columns["bin_low"], data.columns["bin_high"][-1])
    p_tab = data.extra["phase"]
    p_edges = np.append(p_tab["bin_low"], p_tab["bin_high"][-1])
    grid = data.extra["pdf"]["w_hat"]
    present = set(rows)
    with _styled():
        fig = _new_figure(fig, trained_weights_figsize(len(layers), len(sources)))
        axes = fig.subplots(len(layers), 2 * len(sources), squeeze=False)
        for i, layer in enumerate(layers):
            for j, source in enumerate(sources):
                ax_w, ax_p = axes[i, 2 * j], axes[i, 2 * j + 1]
                if (source, layer) not in present:
                    ax_w.set_axis_off()
                    ax_p.set_axis_off()
                    continue
                key = (source, layer)
                shown = _plain(f"{source} {layer}")
                n = data.params["n"][key]
                ax_w.stairs(
                    data.columns[_column(source, layer, "measured")],
                    edges,
                    fill=True,
                    color="0.55",
                    alpha=0.6,
                    label=rf"measured ($n = {_thousands(n)}$)",
                )
                ax_p.stairs(
                    p_tab[_column(source, layer, "measured")], p_edges, fill=True, color="0.55", alpha=0.6,
                    label="measured",
                )  # fmt: skip
                for k, law in enumerate(laws):
                    color = _COLORS[k % len(_COLORS)]
                    best = " (best AIC)" if data.params["best"][key] == law else ""
                    ax_w.plot(
                        grid, data.extra["pdf"][_column(source, layer, law)], color=color, lw=1.1,
                        gid=f"pdf-{law}", label=law + best,
                    )  # fmt: skip
                    ax_p.stairs(
                        p_tab[_column(source, layer, law)], p_edges, color=color, lw=1.1, gid=f"phase-{law}",
                        label=law,
                    )  # fmt: skip
                ax_w.set_yscale("log")
                ax_w.set_xlim(-1.0, 1.0)
                ax_w.set_title(rf"{shown}: $\hat w = \sin(\omega_0 w)$", fontsize=8)
                ax_p.set_xlim(-0.5 * np.pi, 0.5 * np.pi)
                ax_p.set_xticks(
                    [-0.5 * np.pi, -0.25 * np.pi, 0.0, 0.25 * np.pi, 0.5 * np.pi],
                    [r"$-\pi/2$", r"$-\pi/4$", "0", r"$\pi/4$", r"$\pi/2$"],
                )
                ax_p.set_title(rf"{shown}: phase $\theta$ of $\omega_0 w$ (mod $\pi$)", fontsize=8)
                # axis labels on the outer panels only (text layout is most of the drawing time)
                if i == len(layers) - 1:
                    ax_w.set_xlabel(r"$\hat w$")
                    ax_p.set_xlabel(r"$\theta$ (crests at $\pm\pi/2$, zero at 0)")
                if j == 0:
                    ax_w.set_ylabel("density")
                if i == 0:
                    ax_w.legend(loc="upper center", fontsize=6.5, ncols=2)
                    ax_p.legend(loc="upper left", fontsize=6.5)
    return fig


def write_trained_weights(out_dir: str | Path, findings: Any) -> list[Path]:
    """Write ``fig8_trained_weights`` (PDF, PNG and its three CSV tables) into ``out_dir``.

    As :func:`write_all` does for the other figures: bare Agg figure, atomic files, no
    timestamps. Returns the files written.
    """
    data = trained_weights_data(findings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_layers = len(dict.fromkeys(layer for _, layer in data.params["rows"]))
    written: list[Path] = []
    with _styled():
        size = trained_weights_figsize(n_layers, len(data.params["sources"]))
        fig = Figure(figsize=size, layout="constrained")
        trained_weights(fig, data=data)
        fig.draw_without_rendering()  # lay the panels out once, not once per file
        fig.set_layout_engine("none")
        for ext in ("pdf", "png"):
            written.append(save_figure(fig, out / f"{data.name}.{ext}", format=ext))
    for fname, table in data.tables().items():
        written.append(atomic_write(out / fname, _csv_text(table)))
    return written


# ----------------------------------------------------------------------------------------
# Training trajectories of the QE monitor (biper_theory.nn.monitor)
# ----------------------------------------------------------------------------------------

#: what :func:`monitor_trajectories` draws by default: (row key, axis label).
MONITOR_PANELS: tuple[tuple[str, str], ...] = (
    ("qe_measured", r"measured $QE^*$"),
    ("flip_ratio", "flip ratio since last record"),
    ("share_past_half_period", r"share $|\omega_0 w| > \pi/2$"),
    ("alpha_over_gamma_star", r"mean $\alpha$ / mean $\gamma^*_c$"),
)


def monitor_trajectories(
    history: Sequence[Mapping[str, Any]],
    ax: Axes | Sequence[Axes] | None = None,
    *,
    panels: Sequence[tuple[str, str]] = MONITOR_PANELS,
    switch_epoch: float | None = None,
) -> Figure:
    r"""Trajectories of the :class:`biper_theory.nn.monitor.QEMonitor` rows over the epochs.

    One panel per ``(key, label)`` of ``panels``: each binarized layer as a thin line and the
    ``overall`` row as a thick black one, against ``epoch``. ``qe_measured`` also shows the
    overall Laplace and Gaussian model QE (dashed, dotted) where the rows have them. Rows
    whose value is ``None`` (the first flip ratio, α of a layer without α) are skipped. Not in
    the paper.

    Parameters
    ----------
    history : sequence of dict
        ``QEMonitor.history`` or the ``monitor`` rows of ``metrics.json``; several runs may be
        joined with their epochs offset (stage 2 after stage 1).
    ax : Axes or sequence of Axes, optional
        One Axes per panel; ``None`` makes a new figure with the panels side by side.
    panels : sequence of (str, str)
        Row keys and axis labels (default :data:`MONITOR_PANELS`).
    switch_epoch : float, optional
        Draw a dashed vertical line there (e.g. the stage switch of joined runs).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = [r for r in history if r.get("epoch") is not None]
    if not rows:
        raise ValueError("history must hold monitor rows with an epoch; got none")
    if not panels:
        raise ValueError("panels must name at least one row key")
    with _styled():
        if ax is None:
            import matplotlib.pyplot as plt

            fig, made = plt.subplots(
                1, len(panels), figsize=(3.2 * len(panels), 2.9), layout="constrained", squeeze=False
            )
            axes: list[Axes] = list(made[0])
        else:
            axes = [ax] if isinstance(ax, Axes) else list(ax)
            if len(axes) != len(panels):
                raise ValueError(f"ax must hold one Axes per panel ({len(panels)}); got {len(axes)}")
            fig = cast(Figure, axes[0].figure)
        layers = list(dict.fromkeys(str(r["layer"]) for r in rows))
        for axis, (key, label) in zip(axes, panels, strict=True):
            for layer in layers:
                mine = [r for r in rows if r["layer"] == layer]
                pts = [(r["epoch"], r[key]) for r in mine if r.get(key) is not None]
                if not pts:
                    continue
                x, y = zip(*pts, strict=True)
                overall = layer == "overall"
                axis.plot(
                    x,
                    y,
                    color="k" if overall else None,
                    lw=2.0 if overall else 0.9,
                    alpha=1.0 if overall else 0.7,
                    label=layer,
                    zorder=3 if overall else 2,
                )
            if key == "qe_measured":
                for law, style in (("laplace", "--"), ("gaussian", ":")):
                    pts = [
                        (r["epoch"], r["laws"][law]["qe_model"])
                        for r in rows
                        if r["layer"] == "overall" and law in (r.get("laws") or {})
                    ]
                    if pts:
                        x, y = zip(*pts, strict=True)
                        axis.plot(x, y, "k" + style, lw=1.2, label=f"overall, {law} model")
            if switch_epoch is not None:
                axis.axvline(switch_epoch, color="0.5", ls="--", lw=0.8)
            axis.set_xlabel("epoch")
            axis.set_ylabel(label)
        axes[0].legend(fontsize="x-small", frameon=False)
    return fig


__all__ += ["MONITOR_PANELS", "monitor_trajectories"]


# ----------------------------------------------------------------------------------------
# ω₀ studies (biper_theory.study)


def study_panels(
    rows: Sequence[Mapping[str, Any]],
    report: Mapping[str, Any],
    *,
    title: str | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Accuracy against ω₀ (log x) with the QE on a second axis, and the drop at the stage switch.

    Top: each run's stage-2 accuracy (the report's ``outcome`` column) as a grey point, the
    mean over seeds with its 95 % interval in black (from ``report["per_omega0"]``); on the
    right axis the mean overall measured QE* at the end of stage 2 and the QE* the fitted
    Laplace and Gaussian laws predict. Bottom: each run's accuracy drop when the stage-1
    weights are binarized (stage-1 accuracy − accuracy right after the switch) and its mean.

    Parameters
    ----------
    rows : sequence of mapping
        Rows of a study export (:func:`biper_theory.study.export.export_rows`).
    report : mapping
        :func:`biper_theory.study.report.study_report` of the same rows.
    title : str, optional
        Figure title.
    fig : Figure, optional
        Figure to draw into (two axes are added); a new one when None.

    Returns
    -------
    Figure
    """
    outcome = str(report["outcome"])
    drop_key = "switch_drop_" + ("val" if "_val_" in outcome else "test")
    per = list(report["per_omega0"])
    om = np.array([e["omega0"] for e in per], dtype=np.float64)

    def col(entries: Sequence[Mapping[str, Any]], key: str) -> npt.NDArray[np.float64]:
        return np.array([np.nan if e.get(key) is None else float(e[key]) for e in entries], dtype=np.float64)

    with _styled():
        fig = fig if fig is not None else Figure(figsize=(6.4, 5.6), layout="constrained")
        ax, ax_drop = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
        x_runs, y_runs = col(rows, "omega0"), col(rows, outcome)
        ax.scatter(x_runs, y_runs, s=12, color="0.6", zorder=2, label="runs (one per seed)")
        mean = col(per, "accuracy_mean")
        lo, hi = col(per, "accuracy_ci_low"), col(per, "accuracy_ci_high")
        lo, hi = np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean)
        ax.errorbar(
            om, mean, yerr=np.vstack([mean - lo, hi - mean]), color="k", marker="o", ms=4, capsize=3,
            zorder=3, label="mean, 95 % CI",
        )  # fmt: skip
        ax.set_xscale("log")
        ax.set_ylabel(outcome.replace("_", " "))
        qe_ax = ax.twinx()
        for key, label, color in (
            ("qe_mean", "measured QE*", _COLORS[0]),
            ("laplace_qe_mean", "Laplace-model QE*", _COLORS[1]),
            ("gaussian_qe_mean", "Gaussian-model QE*", _COLORS[2]),
        ):
            v = col(per, key)
            if np.isfinite(v).any():
                qe_ax.plot(om, v, color=color, ls="--", lw=1.2, label=label)
        qe_ax.set_ylabel("QE* at the end of stage 2 (overall)")
        handles = ax.get_legend_handles_labels()
        qe_handles = qe_ax.get_legend_handles_labels()
        fig.legend(
            handles[0] + qe_handles[0], handles[1] + qe_handles[1], fontsize="x-small", ncols=3,
            loc="outside lower center", frameon=False,
        )  # fmt: skip
        d_runs = col(rows, drop_key)
        if np.isfinite(d_runs).any():
            ax_drop.scatter(x_runs, d_runs, s=12, color="0.6")
            ax_drop.plot(om, col(per, "switch_drop_mean"), color="k", marker="o", ms=4)
        else:
            ax_drop.text(
                0.5, 0.5, "switch accuracy not recorded", ha="center", va="center",
                transform=ax_drop.transAxes,
            )  # fmt: skip
        ax_drop.axhline(0.0, color="0.8", lw=0.8)
        ax_drop.set_ylabel("drop at the switch")
        ax_drop.set_xlabel(r"$\omega_0$")
        ax_drop.set_xticks(om, [f"{w:g}" for w in om])
        ax_drop.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
        if title:
            fig.suptitle(title)
    return fig
