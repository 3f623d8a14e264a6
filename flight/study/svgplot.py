"""Line charts as SVG, so a flight-side tool can write its plots without a GUI toolkit (the
node's image has no Qt, and flight code may not import the ground's plotting).

A figure is a column of panels sharing the x axis; each panel has its own y range, grid, ticks
and legend. Enough for time series of a few thousand points per series.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")
WIDTH, PANEL_H, LEFT, RIGHT, TOP, GAP = 900, 220, 70, 150, 40, 50


@dataclass
class Panel:
    ylabel: str
    series: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # (label, x, y)

    def add(self, label: str, x, y) -> Panel:
        self.series.append((label, np.asarray(x, float), np.asarray(y, float)))
        return self


def nice_ticks(lo: float, hi: float, count: int = 5) -> np.ndarray:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=10 * mag)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def render(title: str, xlabel: str, panels: list[Panel]) -> str:
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + len(panels) * (PANEL_H + GAP) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>']
    xs = [s[1] for p in panels for s in p.series if len(s[1])]
    x0, x1 = (min(x.min() for x in xs), max(x.max() for x in xs)) if xs else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1.0
    for i, panel in enumerate(panels):
        top = TOP + i * (PANEL_H + GAP)
        ys = [s[2][np.isfinite(s[2])] for s in panel.series]
        ys = [y for y in ys if len(y)]
        y0, y1 = (min(y.min() for y in ys), max(y.max() for y in ys)) if ys else (0.0, 1.0)
        yt = nice_ticks(y0, y1)
        y0, y1 = min(y0, yt[0]), max(y1, yt[-1])
        y1 = y1 if y1 > y0 else y0 + 1.0

        def px(x):
            return LEFT + (x - x0) / (x1 - x0) * plot_w

        def py(y):
            return top + PANEL_H - (y - y0) / (y1 - y0) * PANEL_H

        out.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#444"/>')
        for t in yt:
            out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
        for t in nice_ticks(x0, x1, 8):
            out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{top + PANEL_H}" stroke="#eee"/>')
            out.append(f'<text x="{px(t):.1f}" y="{top + PANEL_H + 15}" text-anchor="middle">{t:g}</text>')
        out.append(f'<text transform="translate(16,{top + PANEL_H / 2}) rotate(-90)" text-anchor="middle">'
                   f'{escape(panel.ylabel)}</text>')
        for j, (label, x, y) in enumerate(panel.series):
            colour = COLOURS[j % len(COLOURS)]
            ok = np.isfinite(y)
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x[ok], y[ok]))
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.3" points="{points}"/>')
            ly = top + 14 + 16 * j
            out.append(f'<line x1="{LEFT + plot_w + 10}" x2="{LEFT + plot_w + 30}" y1="{ly - 4}" y2="{ly - 4}" '
                       f'stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{LEFT + plot_w + 34}" y="{ly}">{escape(label)}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{height - 4}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append("</svg>")
    return "\n".join(out)
