"""PNG figures for the benchmark reports.

Figures are built on :class:`matplotlib.figure.Figure` directly rather than through pyplot: no
global figure registry to leak memory in long runs, no display needed, and ``savefig`` renders
PNG with the Agg backend whatever backend the environment configures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from benchmarks.metrics import RocCurve

_FIGSIZE = (6.4, 4.8)
_DPI = 120


def plot_roc(curves: Mapping[str, RocCurve], *, path: Path, title: str = "ROC") -> Path:
    """TAR against FAR, with FAR on a log axis.

    The operating points of interest (FAR 1e-3 and below) would be squeezed against the left
    edge of a linear axis.

    Args:
        curves: ROC curve per label (a model, a dataset).
        path: PNG file to write; parent folders are created.
        title: Figure title.

    Returns:
        ``path``.
    """
    series = {label: (curve.far, curve.tar) for label, curve in curves.items()}
    return _plot_lines(
        series, path=path, title=title, xlabel="FAR", ylabel="TAR", log_x=True, log_y=False
    )


def plot_det(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]], *, path: Path, title: str = "DET"
) -> Path:
    """FNMR against FMR, both on log axes, so low error rates stay distinguishable.

    Args:
        curves: ``(fmr, fnmr)`` per label, as :func:`benchmarks.metrics.det_curve` returns.
        path: PNG file to write; parent folders are created.
        title: Figure title.

    Returns:
        ``path``.
    """
    return _plot_lines(
        curves, path=path, title=title, xlabel="FMR", ylabel="FNMR", log_x=True, log_y=True
    )


def plot_cmc(curves: Mapping[str, ArrayLike], *, path: Path, title: str = "CMC") -> Path:
    """Identification rate against rank (rank 1 first).

    Args:
        curves: Curve per label, as :func:`benchmarks.metrics.cmc_curve` returns.
        path: PNG file to write; parent folders are created.
        title: Figure title.

    Returns:
        ``path``.
    """
    series = {label: (np.arange(1, np.size(curve) + 1), curve) for label, curve in curves.items()}
    return _plot_lines(
        series,
        path=path,
        title=title,
        xlabel="rank",
        ylabel="identification rate",
        log_x=False,
        log_y=False,
    )


def plot_score_histograms(
    genuine: ArrayLike,
    impostor: ArrayLike,
    *,
    path: Path,
    thresholds: Mapping[str, float] | None = None,
    title: str = "Score distributions",
    bins: int = 100,
) -> Path:
    """Genuine and impostor score densities on shared bins, with labelled threshold lines.

    Densities rather than counts: impostor pairs outnumber genuine ones by orders of magnitude
    and would flatten the genuine histogram.

    Args:
        genuine: Same-person scores.
        impostor: Different-person scores.
        path: PNG file to write; parent folders are created.
        thresholds: Vertical lines to draw, by label (e.g. ``{"FMR 1e-4": 0.41}``).
        title: Figure title.
        bins: Number of bins spanning both score sets.

    Returns:
        ``path``.
    """
    genuine_values = np.asarray(genuine)
    impostor_values = np.asarray(impostor)
    # Edges from the extremes, not from a concatenation that would copy every impostor score.
    low = min(genuine_values.min(), impostor_values.min())
    high = max(genuine_values.max(), impostor_values.max())
    edges = np.linspace(low, high, bins + 1)
    with _figure(path, title=title, xlabel="score", ylabel="density") as ax:
        for label, values in (("impostor", impostor_values), ("genuine", genuine_values)):
            density, _ = np.histogram(values, bins=edges, density=True)
            ax.stairs(density, edges, fill=True, alpha=0.5, label=label)
        # C0 and C1 are the histograms; "CN" wraps around the colour cycle past C9.
        for index, (label, value) in enumerate((thresholds or {}).items(), start=2):
            ax.axvline(value, linestyle="--", color=f"C{index}", label=f"{label} = {value:.3f}")
        ax.legend()
    return path


def plot_bars(
    values: Mapping[str, float],
    *,
    path: Path,
    title: str,
    ylabel: str,
    errors: Mapping[str, float] | None = None,
) -> Path:
    """Labelled bar chart with the values printed on the bars (timings, throughputs).

    Args:
        values: Bar height per label, drawn in the mapping's order.
        path: PNG file to write; parent folders are created.
        title: Figure title.
        ylabel: Unit of the values, e.g. ``"ms per image"``.
        errors: Optional error-bar half-height per label (e.g. a standard deviation).

    Returns:
        ``path``.
    """
    labels = list(values)
    yerr = [errors[label] for label in labels] if errors else None
    with _figure(path, title=title, xlabel="", ylabel=ylabel) as ax:
        bars = ax.bar(labels, [values[label] for label in labels], yerr=yerr, capsize=4)
        ax.bar_label(bars, fmt="%.3g")
        ax.tick_params(axis="x", labelrotation=30)
    return path


def _plot_lines(
    series: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool,
    log_y: bool,
) -> Path:
    """One line per labelled ``(x, y)`` series: the shape shared by ROC, DET and CMC."""
    with _figure(path, title=title, xlabel=xlabel, ylabel=ylabel) as ax:
        for label, (x, y) in series.items():
            ax.plot(x, y, label=label)
        # Log axes drop the zero rates at the curve ends instead of failing on them.
        if log_x:
            ax.set_xscale("log", nonpositive="mask")
        if log_y:
            ax.set_yscale("log", nonpositive="mask")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    return path


@contextmanager
def _figure(path: Path, *, title: str, xlabel: str, ylabel: str) -> Iterator[Axes]:
    """Yield labelled axes, then write the figure as a PNG to ``path``."""
    figure = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="tight")
    ax = figure.subplots()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    yield ax
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
