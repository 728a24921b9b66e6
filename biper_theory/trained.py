r"""What trained latent weights look like, measured against the fitted weight laws.

The paper models the latent weights as :math:`W\sim\mathrm{La}(0, b)` (Section 2.1 of Vargas
et al., 2024) and derives the law of :math:`\hat w = \sin(\omega_0 w)` from it. This module
takes the weights of real binarized layers (a mapping ``layer name → array`` per source, e.g.
the stage-1 and stage-2 weights of one training run) and reports, per layer:

* the **measured** :math:`E\hat w^2`, :math:`\gamma^* = E|\hat w|`,
  :math:`QE^* = E\hat w^2 - \gamma^{*2}` (the paper's QE, eq. (5), at the optimal γ of
  eq. (8), computed from the weights themselves), the share past the first half-period
  :math:`P[|\omega_0 w| > \pi/2]`, and the phase statistics of :mod:`biper_theory.phase`;
* for **each fitted law** (:data:`LAWS`: Laplace, Gaussian, generalized Gaussian, Student-t,
  maximum likelihood with the location fixed at 0): its parameters, AIC and the KS distance
  of :math:`w`; the model's :math:`E\hat w^2`, :math:`\gamma^*`, :math:`QE^*` and phase
  predictions; and a goodness-of-fit test of :math:`\hat w` itself against the law's pdf of
  :math:`\hat w` (:func:`hat_w_chi_square`);
* a histogram of :math:`\hat w` and of the phase, for the figure
  (:func:`biper_theory.figures.trained_weights`).

These are *findings* about trained networks, not checks of the closed forms: nothing here
passes or fails. What is checked (``tests/test_trained.py``) is that every number equals a
direct numpy/scipy computation from the weights.

The weights come from :func:`train_default` (the default ``biper-theory train`` digits run,
seeded, stage 1 then stage 2 warm-started, without the full-precision baseline) or
:func:`read_checkpoints` (our checkpoints, official BiPer ``.pth.tar`` files, plain
state_dicts). Both go through :mod:`biper_theory.nn` and need torch; they import it only when
called, so ``import biper_theory.trained`` stays numpy/scipy only.

References
----------
.. [1] E. Vargas, C. Correa, C. Hinojosa, H. Arguello, "BiPer: Binary Neural Networks
   using a Periodic Function", CVPR 2024, arXiv:2404.01278, Section 2.1.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from . import laws as weight_laws
from . import phase as ph
from .laws._base import check_weights

__all__ = [
    "LAWS",
    "HIST_BINS",
    "CREST_THRESHOLD",
    "GOF_TEST",
    "TRAIN_SEED",
    "WeightSet",
    "GoodnessOfFit",
    "LawFindings",
    "LayerFindings",
    "TrainedFindings",
    "PHASE_BINS",
    "PDF_GRID_POINTS",
    "hat_w_bin_edges",
    "phase_bin_edges",
    "pdf_grid",
    "law_bin_probabilities",
    "law_phase_probabilities",
    "hat_w_chi_square",
    "analyze_layer",
    "analyze",
    "skipped",
    "torch_missing",
    "train_default",
    "read_checkpoints",
]

Array = npt.NDArray[np.float64]

#: The laws fitted to every layer, in report order.
LAWS: tuple[str, ...] = ("laplace", "gaussian", "gennorm", "t")
#: Bins of the ŵ histogram and of the goodness-of-fit test: equal width in arcsin ŵ on
#: [-π/2, π/2], so that the bins next to ±1 (where every pdf of ŵ diverges like
#: 1/√(1-ŵ²)) are narrow in ŵ and no bin holds a large share of the mass.
HIST_BINS = 40
#: Bins of the histogram of the phase θ of :func:`biper_theory.phase.phase` on [-π/2, π/2)
#: (θ = 0 a zero of the sine, an edge; θ = ±π/2 its crests).
PHASE_BINS = 36
#: Points of the grid on which each law's pdf of ŵ is drawn (:func:`pdf_grid`).
PDF_GRID_POINTS = 241
#: ``|ŵ|`` above which a weight sits on a crest of the sine (that of :mod:`biper_theory.phase`).
CREST_THRESHOLD = ph.CREST_THRESHOLD
#: Gauss–Legendre nodes per bin for the law's bin probabilities (see :func:`law_bin_probabilities`).
_GL_NODES = 16
#: Seed of :func:`train_default` (the default of ``biper-theory train``).
TRAIN_SEED = 0
#: The name of the goodness-of-fit test, as written in the JSON.
GOF_TEST = (
    f"Pearson chi-square of the histogram of w_hat = sin(omega0 w) ({HIST_BINS} bins of equal width in "
    "arcsin w_hat) against the fitted law's bin probabilities; df = bins - 1 - fitted parameters; "
    "tv_distance = half the L1 distance between the measured and the model bin frequencies"
)


# ----------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightSet:
    """The latent weights of one source (a training stage or a checkpoint).

    Attributes
    ----------
    layers : dict of str to ndarray
        Layer name → latent weights (float64, any shape), in network order.
    omega0 : float
        The frequency the weights were trained with.
    info : dict
        JSON-ready description of the source (stage, accuracy, path, ...).
    """

    layers: dict[str, Array]
    omega0: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GoodnessOfFit:
    r"""Pearson's chi-square test of the measured ŵ against a law's pdf of ŵ.

    Attributes
    ----------
    statistic : float
        :math:`X^2 = \sum_j (O_j - n p_j)^2 / (n p_j)` over the :data:`HIST_BINS` bins.
    df : int
        Degrees of freedom, bins − 1 − the law's fitted parameters.
    p_value : float
        :math:`P[\chi^2_{df} > X^2]` (``scipy.stats.chi2.sf``); the parameters were fitted to
        :math:`w` by maximum likelihood, not to the binned ŵ, so the p-value is approximate.
    tv_distance : float
        :math:`\tfrac12\sum_j |O_j/n - p_j|`, the total-variation distance between the binned
        measured and model laws (0: identical, 1: disjoint); unlike :math:`X^2` it does not
        grow with the number of weights.
    min_expected : float
        :math:`\min_j n p_j`: the chi-square approximation wants it ≳ 5.
    """

    statistic: float
    df: int
    p_value: float
    tv_distance: float
    min_expected: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (10 significant digits)."""
        return {
            "statistic": _num(self.statistic),
            "df": self.df,
            "p_value": _num(self.p_value),
            "tv_distance": _num(self.tv_distance),
            "min_expected": _num(self.min_expected),
        }


@dataclass(frozen=True)
class LawFindings:
    """One fitted law on one layer: the fit, the model's predictions and the goodness of fit.

    Attributes
    ----------
    law : str
        The law's name (a key of :data:`LAWS`).
    params : dict of str to float
        The fitted parameters (location fixed at 0).
    aic, delta_aic : float
        AIC of the fit and its excess over the best law of the layer (0 for the best).
    ks_statistic : float
        Kolmogorov–Smirnov distance of :math:`w` from the fitted law.
    second_moment, optimal_gamma, quantization_error : float
        :math:`E\\hat w^2`, :math:`\\gamma^* = E|\\hat w|` and :math:`QE^*` under the law.
    crest_share, cos2_mean : float
        The law's :math:`P[|\\hat w| > 0.9]` and :math:`E\\cos 2\\omega_0 w`.
    phase_p_value : float
        p-value of the phase test of :func:`biper_theory.phase.phase_statistics`
        (:data:`biper_theory.phase.TEST`: measured mean of cos 2ω₀w against the law's).
    gof : GoodnessOfFit
        :func:`hat_w_chi_square` of the layer against this law.
    bin_probabilities, phase_probabilities : ndarray
        The law's probability of each ŵ bin and of each phase bin (drawn in the figure, not
        in the JSON).
    pdf_curve : ndarray
        The law's pdf of ŵ on :func:`pdf_grid` (drawn, not in the JSON).
    """

    law: str
    params: dict[str, float]
    aic: float
    delta_aic: float
    ks_statistic: float
    second_moment: float
    optimal_gamma: float
    quantization_error: float
    crest_share: float
    cos2_mean: float
    phase_p_value: float
    gof: GoodnessOfFit
    bin_probabilities: Array = field(repr=False, compare=False)
    phase_probabilities: Array = field(repr=False, compare=False)
    pdf_curve: Array = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (10 significant digits)."""
        return {
            "params": {k: _num(v) for k, v in self.params.items()},
            "aic": _num(self.aic),
            "delta_aic": _num(self.delta_aic),
            "ks_statistic_w": _num(self.ks_statistic),
            "hat_w_chi_square": self.gof.as_dict(),
            "model": {
                "second_moment": _num(self.second_moment),
                "optimal_gamma": _num(self.optimal_gamma),
                "quantization_error": _num(self.quantization_error),
            },
            "phase": {
                "crest_share_model": _num(self.crest_share),
                "cos2_mean_model": _num(self.cos2_mean),
                "p_value": _num(self.phase_p_value),
            },
        }


@dataclass(frozen=True)
class LayerFindings:
    r"""One layer of one source: measured quantities and every law's.

    Attributes
    ----------
    source, layer : str
        Where the weights come from (``"stage1"``, ...) and the layer's name.
    n : int
        Number of weights.
    omega0 : float
    second_moment, optimal_gamma, quantization_error : float
        Measured :math:`\overline{\hat w^2}`, :math:`\overline{|\hat w|}` and their
        :math:`QE^* = \overline{\hat w^2} - \overline{|\hat w|}^2`.
    share_past_half_period : float
        Measured share with :math:`|\omega_0 w| > \pi/2`.
    crest_share, cos2_mean : float
        Measured share with :math:`|\hat w| > 0.9` and mean of :math:`\cos 2\omega_0 w`.
    best_law : str
        The law with the lowest AIC.
    laws : dict of str to LawFindings
    hat_w_counts, phase_counts : ndarray
        Histogram counts of ŵ over :func:`hat_w_bin_edges` and of the phase
        θ (:func:`biper_theory.phase.phase`) over :func:`phase_bin_edges`.
    """

    source: str
    layer: str
    n: int
    omega0: float
    second_moment: float
    optimal_gamma: float
    quantization_error: float
    share_past_half_period: float
    crest_share: float
    cos2_mean: float
    best_law: str
    laws: dict[str, LawFindings]
    hat_w_counts: Array = field(repr=False, compare=False)
    phase_counts: Array = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """One JSON row (10 significant digits)."""
        return {
            "source": self.source,
            "layer": self.layer,
            "n": self.n,
            "omega0": _num(self.omega0),
            "measured": {
                "second_moment": _num(self.second_moment),
                "optimal_gamma": _num(self.optimal_gamma),
                "quantization_error": _num(self.quantization_error),
                "share_past_half_period": _num(self.share_past_half_period),
                "crest_share": _num(self.crest_share),
                "cos2_mean": _num(self.cos2_mean),
            },
            "best_law_by_aic": self.best_law,
            "laws": {name: f.as_dict() for name, f in self.laws.items()},
        }


@dataclass(frozen=True)
class TrainedFindings:
    """The trained-weights route of ``reproduce``: every layer of every source, or why not.

    Attributes
    ----------
    status : {"done", "skipped"}
    reason : str
        Why the route was skipped (empty when done).
    sources : dict of str to dict
        Per source, its ``WeightSet.info`` and ω₀.
    layers : list of LayerFindings
        In source order, then network order.
    laws : tuple of str
        The laws fitted.
    """

    status: str
    reason: str = ""
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    layers: list[LayerFindings] = field(default_factory=list)
    laws: tuple[str, ...] = LAWS

    def to_json(self) -> dict[str, Any]:
        """The ``trained_weights`` entry of ``reproduce.json`` (strict JSON, no timings)."""
        if self.status != "done":
            return {"status": self.status, "reason": self.reason}
        return {
            "status": self.status,
            "note": (
                "findings about trained weights, not pass/fail checks: the closed-form checks and "
                "the exit status do not depend on them"
            ),
            "sources": self.sources,
            "laws": list(self.laws),
            "fit": "maximum likelihood, location fixed at 0",
            "goodness_of_fit": GOF_TEST,
            "phase_test": ph.TEST,
            "crest_threshold": CREST_THRESHOLD,
            "layers": [f.as_dict() for f in self.layers],
        }


def _num(x: float) -> float | None:
    """A float rounded to 10 significant digits (stable bytes in the JSON); None if not finite."""
    x = float(x)
    return float(f"{x:.10g}") if math.isfinite(x) else None


# ----------------------------------------------------------------------------------------
# The ŵ histogram and its goodness of fit
# ----------------------------------------------------------------------------------------


def hat_w_bin_edges(bins: int = HIST_BINS) -> Array:
    r"""Edges :math:`\sin\theta_j` of ``bins`` bins of equal width in :math:`\theta = \arcsin\hat w`.

    Not in the paper. :math:`\theta_j = -\pi/2 + j\pi/\text{bins}`; the end edges are exactly
    ±1. With an even number of bins, 0 is an edge (where the pdf of ŵ has a kink).
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2; got {bins!r}")
    theta = np.linspace(-0.5 * np.pi, 0.5 * np.pi, int(bins) + 1)
    edges = np.sin(theta)
    edges[0], edges[-1] = -1.0, 1.0
    if bins % 2 == 0:
        edges[int(bins) // 2] = 0.0  # sin of the rounded middle angle is ~1e-17, not 0
    return edges


def phase_bin_edges(bins: int = PHASE_BINS) -> Array:
    r"""Edges of ``bins`` equal bins of the phase θ (:func:`biper_theory.phase.phase`) on [-π/2, π/2]."""
    if isinstance(bins, bool) or int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2; got {bins!r}")
    edges = np.linspace(-0.5 * np.pi, 0.5 * np.pi, int(bins) + 1)
    if bins % 2 == 0:
        edges[int(bins) // 2] = 0.0
    return edges


def pdf_grid() -> Array:
    """The ŵ values at which each law's pdf is drawn: :data:`PDF_GRID_POINTS` points of
    [-0.995, 0.995] (every pdf of ŵ diverges at ±1)."""
    return np.linspace(-0.995, 0.995, PDF_GRID_POINTS)


def _gauss_legendre(edges: Array) -> tuple[Array, Array]:
    """Nodes (bins, nodes) and weights (bins, nodes) of the rule on each bin of ``edges``."""
    nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    return mid[:, None] + half[:, None] * nodes[None, :], half[:, None] * weights[None, :]


def law_phase_probabilities(law: Any, *, omega0: float, bins: int = PHASE_BINS) -> Array:
    r"""The probability of each bin of :func:`phase_bin_edges` under a fitted zero-mean law.

    Not in the paper. The density of the phase θ is the law's wrapped density
    (:func:`biper_theory.phase.phase_density`),

    .. math:: p_\pi(\theta) = \sum_k f_X(\theta + k\pi) = f_{\hat w}(\sin\theta)\cos\theta,
              \qquad X = \omega_0 W,

    integrated over each bin by 16-point Gauss–Legendre (bounded integrand, smooth inside
    each bin, its kink at 0 on an edge). Tested against the periodic sums of the law's cdf of
    w: ≤ 1e-12 absolute for the closed-form laws (Laplace, Gaussian); for gennorm and t the
    error is that of their numerical ``pdf_hat`` (≤ 1e-11 measured).
    """
    th, wt = _gauss_legendre(phase_bin_edges(bins))
    dens = np.asarray(ph.phase_density(law, th, omega0=omega0), dtype=np.float64)
    return np.asarray(np.sum(dens * wt, axis=1), dtype=np.float64)


def law_bin_probabilities(law: Any, *, omega0: float, bins: int = HIST_BINS) -> Array:
    r"""The probability of each bin of :func:`hat_w_bin_edges` under a fitted law.

    Not in the paper. With :math:`\hat w = \sin\theta`,

    .. math:: p_j = \int_{\theta_j}^{\theta_{j+1}} f_{\hat w}(\sin\theta)\cos\theta\,d\theta,

    by 16-point Gauss–Legendre in :math:`\theta` per bin (``law.pdf_hat``). In θ the integrand
    is bounded (the :math:`1/\sqrt{1-\hat w^2}` of the pdf cancels against
    :math:`\cos\theta`) and smooth inside each bin for every law with a density smooth away
    from 0, whose kink lies on the bin edge 0. Tested against the cdf differences (periodic
    sums of the law's cdf of w): ≤ 1e-12 absolute for the closed-form laws (Laplace,
    Gaussian); for gennorm and t the error is that of their numerical ``pdf_hat`` (≤ 1e-11
    measured).

    Parameters
    ----------
    law : law object
        A fitted law with ``pdf_hat(y, omega0=)``.
    omega0 : float
    bins : int

    Returns
    -------
    ndarray
        ``bins`` probabilities (summing to 1 within the rule's accuracy).
    """
    th, wt = _gauss_legendre(np.arcsin(hat_w_bin_edges(bins)))
    # p_j = ∫ f(sin θ) cos θ dθ over bin j
    integrand = np.asarray(law.pdf_hat(np.sin(th), omega0=omega0), dtype=np.float64) * np.cos(th)
    return np.asarray(np.sum(integrand * wt, axis=1), dtype=np.float64)


def hat_w_chi_square(counts: npt.ArrayLike, probabilities: npt.ArrayLike, *, n_params: int) -> GoodnessOfFit:
    r"""Pearson's chi-square test of binned ŵ against a law's bin probabilities. Not in the paper.

    Parameters
    ----------
    counts : array_like
        Observed count per bin.
    probabilities : array_like
        The law's probability per bin (:func:`law_bin_probabilities`), all > 0.
    n_params : int
        Parameters fitted (subtracted from the degrees of freedom).

    Returns
    -------
    GoodnessOfFit

    Notes
    -----
    .. math:: X^2 = \sum_j \frac{(O_j - n p_j)^2}{n p_j},\qquad
              df = J - 1 - k,\qquad p = P[\chi^2_{df} > X^2].
    """
    o = np.asarray(counts, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if o.shape != p.shape or o.ndim != 1:
        raise ValueError("counts and probabilities must be 1-d arrays of the same length")
    if not np.all(p > 0):
        raise ValueError("probabilities must all be > 0")
    n = float(o.sum())
    expected = n * p
    stat = float(np.sum((o - expected) ** 2 / expected))  # X² = Σ (O − E)²/E
    df = int(o.size - 1 - n_params)
    if df < 1:
        raise ValueError(
            f"n_params must leave at least 1 degree of freedom; got {n_params} for {o.size} bins"
        )
    return GoodnessOfFit(
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        tv_distance=float(0.5 * np.sum(np.abs(o / n - p))),
        min_expected=float(expected.min()),
    )


# ----------------------------------------------------------------------------------------
# One layer, every source
# ----------------------------------------------------------------------------------------


def analyze_layer(
    w: npt.ArrayLike,
    *,
    omega0: float,
    laws: Sequence[str] = LAWS,
    layer: str = "",
    source: str = "",
) -> LayerFindings:
    r"""Measured quantities of one layer's ŵ = sin(ω₀w) against each fitted law.

    Not in the paper: the paper's model is the Laplace law alone (Section 2.1); here the
    measured :math:`E\hat w^2`, :math:`\gamma^*`, :math:`QE^*` of the weights stand beside
    each law's predictions at its maximum-likelihood fit.

    Parameters
    ----------
    w : array_like
        Latent weights of the layer (finite, not all 0; any shape).
    omega0 : float
        Frequency, in (0, inf).
    laws : sequence of str
        Laws to fit (default :data:`LAWS`).
    layer, source : str
        Labels carried into the result.

    Returns
    -------
    LayerFindings

    Notes
    -----
    Measured, from the weights (float64):

    .. math:: \overline{\hat w^2},\quad \gamma^* = \overline{|\hat w|},\quad
              QE^* = \overline{\hat w^2} - \overline{|\hat w|}^2,\quad
              \overline{\mathbb 1[|\omega_0 w| > \pi/2]},\quad
              \overline{\mathbb 1[|\hat w| > 0.9]},\quad \overline{\cos 2\omega_0 w}.
    """
    x = check_weights(w).astype(np.float64, copy=False)
    if not (isinstance(omega0, int | float | np.floating) and math.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be finite and in (0, inf); got {omega0!r}")
    omega0 = float(omega0)
    s = np.sin(omega0 * x)  # ŵ = sin(ω₀ w)
    m2 = float(np.mean(s * s))
    g = float(np.mean(np.abs(s)))
    counts, _ = np.histogram(s, bins=hat_w_bin_edges())
    fits = weight_laws.fit_all(x, names=laws, fix_loc=True)
    best = weight_laws.best_by_aic(fits)
    found: dict[str, LawFindings] = {}
    phases: dict[str, ph.PhaseStatistics] = {}
    best_aic = fits[best].aic
    for name, law in fits.items():
        # a fitted law carries its AIC and KS distance (None only for laws built by hand)
        assert law.aic is not None and law.ks_statistic is not None and best_aic is not None
        probs = law_bin_probabilities(law, omega0=omega0)
        phases[name] = st = ph.phase_statistics(x, omega0=omega0, law=law, threshold=CREST_THRESHOLD)
        found[name] = LawFindings(
            law=name,
            params={k: float(v) for k, v in law.params.items()},
            aic=float(law.aic),
            delta_aic=float(law.aic - best_aic),
            ks_statistic=float(law.ks_statistic),
            second_moment=float(law.second_moment(omega0=omega0)),
            optimal_gamma=float(law.optimal_gamma(omega0=omega0)),
            quantization_error=float(law.quantization_error(omega0=omega0)),
            crest_share=st.crest_share_model,
            cos2_mean=st.cos2_mean_model,
            phase_p_value=st.p_value,
            gof=hat_w_chi_square(counts, probs, n_params=int(law.n_params)),
            bin_probabilities=probs,
            phase_probabilities=law_phase_probabilities(law, omega0=omega0),
            pdf_curve=np.asarray(law.pdf_hat(pdf_grid(), omega0=omega0), dtype=np.float64),
        )
    return LayerFindings(
        source=source,
        layer=layer,
        n=int(x.size),
        omega0=omega0,
        second_moment=m2,
        optimal_gamma=g,
        quantization_error=max(m2 - g * g, 0.0),  # QE* = E ŵ² − γ*² ≥ 0
        share_past_half_period=float(np.mean(np.abs(omega0 * x) > 0.5 * np.pi)),
        crest_share=phases[best].crest_share,
        cos2_mean=phases[best].cos2_mean,
        best_law=best,
        laws=found,
        hat_w_counts=counts.astype(np.float64),
        phase_counts=np.histogram(ph.phase(x, omega0=omega0), bins=phase_bin_edges())[0].astype(np.float64),
    )


def analyze(sources: Mapping[str, WeightSet], *, laws: Sequence[str] = LAWS) -> TrainedFindings:
    """:func:`analyze_layer` for every layer of every source.

    Parameters
    ----------
    sources : mapping of str to WeightSet
        Source label (``"stage1"``, ...) → its weights, in report order; at least one.
    laws : sequence of str
        Laws to fit (default :data:`LAWS`).

    Returns
    -------
    TrainedFindings
        ``status="done"``.
    """
    if not sources:
        raise ValueError("sources must hold at least one WeightSet; got none")
    rows = [
        analyze_layer(w, omega0=ws.omega0, laws=laws, layer=name, source=label)
        for label, ws in sources.items()
        for name, w in ws.layers.items()
    ]
    info = {label: {"omega0": ws.omega0, **ws.info} for label, ws in sources.items()}
    return TrainedFindings(status="done", sources=info, layers=rows, laws=tuple(laws))


def skipped(reason: str) -> TrainedFindings:
    """A skipped route (``status="skipped"``) with its reason, for ``reproduce.json``."""
    return TrainedFindings(status="skipped", reason=str(reason))


# ----------------------------------------------------------------------------------------
# Where the weights come from (torch, through biper_theory.nn; imported only when called)
# ----------------------------------------------------------------------------------------


def torch_missing() -> str | None:
    """Why torch cannot be used (one line), or None when it is installed.

    Looks torch up without importing it (:func:`importlib.util.find_spec`); an entry ``None``
    in ``sys.modules`` (imports of torch blocked) counts as missing.
    """
    try:
        found = importlib.util.find_spec("torch") is not None
    except ValueError:  # sys.modules["torch"] is None
        found = False
    if found:
        return None
    return "torch is not installed; install the nn extra: pip install 'biper-theory[nn]'"


def train_default(*, seed: int = TRAIN_SEED, epochs: int | None = None) -> dict[str, WeightSet]:
    """Train the default digits model (stage 1, then stage 2 warm-started) and return both.

    :func:`biper_theory.nn.train.train_two_stage` with the defaults of ``biper-theory train``
    (digits, ``resnet-small``, ω₀ = 20, its epochs and learning rates) and no full-precision
    baseline, into a temporary folder; the weights are read back from the two checkpoints
    with :func:`biper_theory.nn.checkpoint.load_latent_weights`, the route ``--checkpoint``
    takes. Each checkpoint holds the weights of the epoch chosen on the validation split (the
    training default). The same seed gives bitwise the same weights on the same machine (one
    intra-op thread, deterministic algorithms; see :mod:`biper_theory.nn.train`).

    Parameters
    ----------
    seed : int
        Training seed (default :data:`TRAIN_SEED`, that of ``biper-theory train``).
    epochs : int, optional
        Epochs per stage; ``None`` keeps the training default.

    Returns
    -------
    dict
        ``{"stage1": WeightSet, "stage2": WeightSet}``.
    """
    from .nn.checkpoint import load_latent_weights
    from .nn.train import TrainConfig, train_two_stage

    overrides: dict[str, Any] = {"seed": int(seed), "progress": False}
    if epochs is not None:
        overrides["epochs"] = int(epochs)
    with tempfile.TemporaryDirectory(prefix="biper-trained-") as tmp:
        result = train_two_stage(TrainConfig(out=tmp, **overrides), baseline=False)
        out: dict[str, WeightSet] = {}
        for label, run in (("stage1", result.stage1), ("stage2", result.stage2)):
            assert run.checkpoint is not None
            lw = load_latent_weights(run.checkpoint)
            cfg = run.config
            info = {
                "kind": "trained here",
                "dataset": cfg.dataset,
                "arch": cfg.arch,
                "stage": cfg.stage,
                "seed": cfg.seed,
                "epochs": cfg.epochs,
                "lr": cfg.effective_lr,
                "val_fraction": cfg.val_fraction,
                "best_epoch": run.best_epoch,
                "selection": run.selection,
                "best_val_accuracy": None if run.best_val_accuracy is None else _num(run.best_val_accuracy),
                "test_accuracy_at_best": _num(run.test_accuracy_at_best),
                "state_dict_sha256": run.state_dict_sha256,
            }
            out[label] = WeightSet(layers=dict(lw.layers), omega0=float(lw.omega0), info=info)
    return out


def read_checkpoints(paths: Sequence[str | Path], *, omega0: float | None = None) -> dict[str, WeightSet]:
    """The binarized layers of each checkpoint, read with ``torch.load(weights_only=True)``.

    Through :func:`biper_theory.nn.checkpoint.load_latent_weights`: our checkpoints, official
    BiPer ``.pth.tar`` files (ω₀ from ``config.txt`` beside them) and plain state_dicts.
    Labels: ``"stage<k>"`` for our checkpoints that record their stage (made unique with the
    file name where two share a stage), else the file name.

    Parameters
    ----------
    paths : sequence of path
        One or more checkpoint files.
    omega0 : float, optional
        ω₀ for files that carry none (overrides the metadata, as in ``pick-omega``).

    Returns
    -------
    dict of str to WeightSet
    """
    from .nn.checkpoint import load_latent_weights

    if not paths:
        raise ValueError("paths must name at least one checkpoint; got none")
    out: dict[str, WeightSet] = {}
    for p in paths:
        lw = load_latent_weights(p, omega0=omega0)
        stage = lw.meta.get("stage") if lw.kind == "biper-theory" else None
        label = f"stage{stage}" if isinstance(stage, int) and not isinstance(stage, bool) else Path(p).name
        if label in out:
            label = f"{label} ({Path(p).name})"
        if label in out:
            raise ValueError(f"paths must name each checkpoint once; {str(p)!r} is repeated")
        info: dict[str, Any] = {
            "kind": lw.kind,
            "path": str(p),
            "arch": lw.arch,
            "omega0_source": lw.omega0_source,
        }
        for key in ("stage", "dataset", "seed", "epochs", "best_epoch", "accuracy", "state_dict_sha256"):
            value = lw.meta.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                info[key] = _num(value) if isinstance(value, float) else value
        out[label] = WeightSet(layers=dict(lw.layers), omega0=float(lw.omega0), info=info)
    return out
