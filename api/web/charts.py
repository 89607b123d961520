"""A small stacked bar chart drawn on the server as SVG: no script, nothing fetched by the browser.

The chart only illustrates; the table beside it holds the figures (and is what a screen reader
reads), so the SVG is a titled image with a text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

# Colour-blind-safe (Okabe-Ito), each readable against white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
WIDTH, HEIGHT, AXIS, TOP = 640, 180, 28, 12


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: list[int]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def bar_chart(labels: list[str], series: list[Series], *, title: str) -> Markup:
    """Stacked bars, one per label; every ``len(labels) // 14``-th label written under its bar."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    slot = WIDTH / max(len(labels), 1)
    bar = max(slot * 0.7, 1.0)
    scale = (HEIGHT - AXIS - TOP) / peak
    every = max(len(labels) // 14, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="0" y1="{HEIGHT - AXIS}" x2="{WIDTH}" y2="{HEIGHT - AXIS}" stroke="#555"/>',
        f'<text x="0" y="{TOP - 2}" font-size="11" fill="#333">{peak}</text>',
    ]
    for i, label in enumerate(labels):
        x = i * slot + (slot - bar) / 2
        y = float(HEIGHT - AXIS)
        for index, one in enumerate(series):
            height = one.values[i] * scale
            if height:
                y -= height
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}"'
                    f' fill="{colour(index)}"><title>{escape(label)}, {escape(one.name)}:'
                    f" {one.values[i]}</title></rect>"
                )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - AXIS + 14}" font-size="10"'
                f' text-anchor="middle" fill="#333">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (labels and names escaped above; numbers only)
