"""Charts as inline SVG drawn by matplotlib.

Why matplotlib: it is the most widely kept Python plotting library, renders without a browser or
JavaScript, and its SVG is vector (sharp on a laptop and in print) and can be inlined, so a report
needs no network and runs no script at view time. Text stays text (``svg.fonttype: none``), which
keeps files small; labels from data are never read as math (``text.parse_math: False``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

_STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}

PALETTE = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("charts need matplotlib: pip install 'xinstruct[report]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def histogram(series: Mapping[str, Sequence[float]], *, bins: int = 20, xlabel: str, title: str,
              value_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """Overlaid histograms (e.g. all candidates' scores vs the selected ones)."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        for (label, values), colour in zip(series.items(), PALETTE, strict=False):
            ax.hist(list(values), bins=bins, range=value_range, alpha=0.6, label=f"{label} ({len(values)})", color=colour)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        ax.set_title(title)
        ax.legend(frameon=False)
        return _svg(fig)


def bars(groups: Sequence[str], series: Mapping[str, Sequence[float]], *, ylabel: str, title: str,
         stacked: bool = False) -> str:
    """Grouped (or stacked) bars: one group per label, one bar per series."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        width_in = min(11.0, max(4.0, 0.45 * len(groups) * max(1, 1 if stacked else len(series)) + 1.5))
        fig, ax = plt.subplots(figsize=(width_in, 2.9))
        n = max(1, len(series))
        width = 0.8 if stacked else 0.8 / n
        bottom = [0.0] * len(groups)
        for k, ((label, values), colour) in enumerate(zip(series.items(), PALETTE * 4, strict=False)):
            xs = [i if stacked else i - 0.4 + width * (k + 0.5) for i in range(len(groups))]
            ax.bar(xs, list(values), width=width, label=label, color=colour, bottom=bottom if stacked else None)
            if stacked:
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(list(groups), rotation=30 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=8)
        return _svg(fig)


def lines(series: Mapping[str, Sequence[tuple[float, float]]], *, xlabel: str, ylabel: str, title: str) -> str:
    """Line chart of (x, y) points per series (loss curves, counts over rounds)."""
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 2.8))
        for (label, points), colour in zip(series.items(), PALETTE * 4, strict=False):
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=label, color=colour)
        if all(float(x).is_integer() for pts in series.values() for x, _ in pts):
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds and steps are whole numbers
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if any(series.values()):
            ax.legend(frameon=False, fontsize=8)  # even one line: its label says which run and stage it is
        return _svg(fig)


def graph(edges: Mapping[tuple[str, str], int], *, title: str) -> str:
    """Nodes on a circle and arrows whose width and label give each edge's count (self-loops as a label)."""
    import math

    plt = _pyplot()
    nodes = sorted({n for e in edges for n in e})
    pos = {n: (math.cos(2 * math.pi * i / len(nodes)), math.sin(2 * math.pi * i / len(nodes))) for i, n in enumerate(nodes)}
    top = max(edges.values())
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(4.8, 4.2))
        for (a, b), n in edges.items():
            (x0, y0), (x1, y1) = pos[a], pos[b]
            if a == b:
                ax.annotate(f"↻ {n}", (x0, y0), xytext=(0, 14), textcoords="offset points", ha="center", fontsize=8)
                continue
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops={"arrowstyle": "-|>", "lw": 0.6 + 3 * n / top, "color": PALETTE[0], "alpha": 0.7,
                                    "shrinkA": 14, "shrinkB": 14, "connectionstyle": "arc3,rad=0.15"})
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(n), fontsize=8, ha="center")
        for n, (x, y) in pos.items():
            ax.scatter([x], [y], s=500, color=PALETTE[1], zorder=3)
            ax.text(x, y, n, ha="center", va="center", fontsize=8, zorder=4)
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-1.4, 1.4)
        ax.set_axis_off()
        ax.set_title(title)
        return _svg(fig)
