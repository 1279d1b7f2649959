"""The report's page: sections of figures, charts and tables rendered into one HTML file.

Jinja2 with autoescape renders every value from the data as text; only the charts' SVG, which
matplotlib writes with its own escaping, is inserted as markup. Styles are inlined and the page
holds no script, so it opens offline and prints as it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from xinstruct import __version__


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Section:
    title: str
    anchor: str
    intro: str = ""
    figures: list[tuple[str, Any]] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#fff; --accent:#4269d0; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; max-width: 1100px; padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin: .2rem 0 .4rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem;
     border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
.meta, .muted { color: var(--muted); font-size: .88rem; }
nav a { margin-right: .9rem; color: var(--accent); text-decoration: none; font-size: .9rem; }
.figures { display: flex; flex-wrap: wrap; gap: .6rem; margin: .6rem 0; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: .45rem .7rem; min-width: 9rem; }
.figure b { display: block; font-size: 1.15rem; } .figure span { color: var(--muted); font-size: .8rem; }
.chart svg { max-width: 100%; height: auto; } .chart { margin: .5rem 0; break-inside: avoid; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; break-inside: auto; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .22rem .6rem; text-align: left; vertical-align: top;
         max-width: 38rem; overflow-wrap: anywhere; white-space: pre-wrap; }
th { overflow-wrap: normal; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .82rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f7f9; padding: .5rem; border-radius: 4px; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } nav { display: none; }
               h2 { break-after: avoid; } .figure { border-color: #999; } }
"""

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{ title }}</title><style>{{ css }}</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{% for k, v in meta %}<b>{{ k }}</b> {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
<nav>{% for s in sections %}<a href="#{{ s.anchor }}">{{ s.title }}</a>{% endfor %}</nav>
{% for s in sections %}
<section id="{{ s.anchor }}"><h2>{{ s.title }}</h2>
{% if s.intro %}<p class="muted">{{ s.intro }}</p>{% endif %}
{% if s.figures %}<div class="figures">{% for label, value in s.figures %}<div class="figure"><b>{{ fmt(value) }}</b><span>{{ label }}</span></div>{% endfor %}</div>{% endif %}
{% for chart in s.charts %}<div class="chart">{{ chart }}</div>{% endfor %}
{% for t in s.tables %}<table>{% if t.caption %}<caption>{{ t.caption }}</caption>{% endif %}
<thead><tr>{% for c in t.columns %}<th{% if numeric(t, loop.index0) %} class="num"{% endif %}>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for cell in row %}<td{% if numeric(t, loop.index0) %} class="num"{% endif %}>{{ fmt(cell) }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% endfor %}
{% for n in s.notes %}<p class="muted">{{ n }}</p>{% endfor %}
</section>
{% endfor %}
<p class="muted">made by xinstruct {{ version }} · <code>xinstruct report</code></p>
</body></html>
"""


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(table: Table, col: int) -> bool:
    return bool(table.rows) and all(_is_num(r[col]) or r[col] is None for r in table.rows if col < len(r))


def render(title: str, meta: list[tuple[str, Any]], sections: list[Section]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_TEMPLATE)
    for s in sections:
        s.charts = [Markup(c) for c in s.charts]  # matplotlib's own SVG, its text escaped by matplotlib
    return template.render(title=title, meta=meta, sections=sections, css=Markup(_CSS), fmt=fmt,
                           numeric=_numeric, version=__version__)
