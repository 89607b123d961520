"""PNG figures for the benchmark reports.

Figures are built on :class:`matplotlib.figure.Figure` directly rather than through pyplot: no
global figure registry to leak memory in long runs, no display needed, and ``savefig`` renders
PNG with the Agg backend whatever backend the environment configures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from benchmarks.metrics import RocCurve
from benchmarks.output import checked

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
    with labelled_figure(path, title=title, xlabel="score", ylabel="density") as ax:
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
    with labelled_figure(path, title=title, xlabel="", ylabel=ylabel) as ax:
        bars = ax.bar(labels, [values[label] for label in labels], yerr=yerr, capsize=4)
        ax.bar_label(bars, fmt="%.3g")
        ax.tick_params(axis="x", labelrotation=30)
    return path


def plot_mode_bars(
    result: Mapping[str, object],
    *,
    parts: Sequence[tuple[str, str]],
    path: Path,
    title: str,
) -> None:
    """Bars grouped by mode (a change measured before and after, in one run): for each mode,
    its median over the rounds of each of ``parts`` (the key, its label), as the result
    states them (:func:`benchmarks.modes.summary`); the title says over how many rounds."""
    medians = checked(result, "median_s", dict)
    width = 0.8 / len(parts)
    with labelled_figure(path, title=f"{title} ({result['rounds']} rounds)", xlabel="",
                         ylabel="seconds (median of the rounds)") as axes:
        for offset, (key, label) in enumerate(parts):
            axes.bar([position + offset * width for position in range(len(medians))],
                     [medians[mode][key] for mode in medians], width, label=label)
        axes.set_xticks([position + width * (len(parts) - 1) / 2
                         for position in range(len(medians))], list(medians))
        axes.legend()


@dataclass(frozen=True, slots=True)
class RatePanel:
    """One error rate of several groups, for :func:`plot_group_rates`.

    Attributes:
        title: The panel's title (the grouping, the rate, the operating point).
        reference: The rate the groups are held against, drawn as a line.
        groups: Group labels, in drawing order.
        rates: Each group's rate; ``None`` where its comparisons are too few to state one.
        intervals: Each group's 95 % interval; ``None`` where it has no comparison.
        by_identity: Each group's 95 % interval from resampling its people, drawn thin beside
            the other; ``None`` where not known.
    """

    title: str
    reference: float
    groups: Sequence[str]
    rates: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None]
    by_identity: Sequence[tuple[float, float] | None] | None = None


def plot_group_rates(panels: Sequence[RatePanel], *, path: Path, title: str) -> Path:
    """Each group's rate and interval against the reference, one panel per rate, two a row.

    A group with too few comparisons is drawn as its interval alone, greyed and labelled, never
    as a point at 0. The y axis stops at three times the reference or the highest interval of a
    stated rate, whichever is higher, so a few-comparison interval reaching to 1 does not
    flatten the others (it runs off the top).

    Args:
        panels: The panels, filled row by row.
        path: PNG file to write; parent folders are created.
        title: The figure's title.

    Returns:
        ``path``.
    """
    rows = -(-len(panels) // 2)
    figure = Figure(figsize=(2 * _FIGSIZE[0], 3.2 * rows), dpi=_DPI, layout="constrained")
    figure.suptitle(title)
    for ax, panel in zip(figure.subplots(rows, 2, squeeze=False).flat, panels, strict=False):
        stated = [i for i, rate in enumerate(panel.rates) if rate is not None]
        people = panel.by_identity or [None] * len(panel.groups)
        top = max([3 * panel.reference, *(
            _draw_group(ax, index, rate, interval, person) for index, (rate, interval, person)
            in enumerate(zip(panel.rates, panel.intervals, people, strict=True)))])
        ax.axhline(panel.reference, linestyle="--", color="C3",
                   label=f"reference {panel.reference:.3g}")
        ax.set_ylim(0, top * 1.1)
        ax.set_xlim(-0.5, len(panel.groups) - 0.5)
        ax.set_xticks(range(len(panel.groups)), panel.groups, fontsize=7, rotation=15)
        ax.set_title(panel.title, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7, title=f"{len(stated)} of {len(panel.groups)} stated",
                  title_fontsize=7)
    for ax in figure.axes[len(panels):]:
        ax.set_visible(False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _draw_group(
    ax: Axes, index: int, rate: float | None, interval: tuple[float, float] | None,
    people: tuple[float, float] | None,
) -> float:
    """One group of :func:`plot_group_rates` at ``x = index``; returns how high the axis must
    reach to show it (0 for a rate not stated, whose interval may run off the top)."""
    if interval is None:
        ax.annotate("none", (index, 0), ha="center", va="bottom", fontsize=7)
        return 0.0
    colour = "C0" if rate is not None else "0.6"
    ax.vlines(index, *interval, color=colour, linewidth=3 if rate is not None else 1.5)
    if people is not None:
        ax.vlines(index + 0.08, *people, color="k", linewidth=0.8)
    if rate is None:
        ax.annotate("too few", (index, 0), ha="center", va="bottom", fontsize=7, color=colour)
        return 0.0
    ax.plot(index, rate, "o", color="C1")
    return max(interval[1], people[1] if people else 0.0)


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
    with labelled_figure(path, title=title, xlabel=xlabel, ylabel=ylabel) as ax:
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
def labelled_figure(path: Path, *, title: str, xlabel: str, ylabel: str) -> Iterator[Axes]:
    """Yield labelled axes, then write the figure as a PNG to ``path``: every benchmark's
    one-panel figure, so they share size, resolution and layout."""
    figure = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="tight")
    ax = figure.subplots()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    yield ax
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
