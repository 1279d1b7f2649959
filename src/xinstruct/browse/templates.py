"""The app's pages. Jinja2 autoescapes every value; the pages hold no script (the CSP forbids one)."""

from __future__ import annotations

CSS = """
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; margin: 0 auto;
       max-width: 1200px; padding: 1rem 1.4rem 3rem; }
a { color: #4269d0; } h1 { font-size: 1.35rem; margin: .3rem 0; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; background: #f6f7f9; padding: .6rem;
               border-radius: 6px; } form.filters label { display: flex; flex-direction: column; font-size: .8rem; }
input, select, button { font: inherit; padding: .2rem .35rem; } input[type=number] { width: 5.5rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .85rem; }
th, td { border-bottom: 1px solid #d9dde5; padding: .25rem .5rem; text-align: left; vertical-align: top; }
td.title { overflow-wrap: anywhere; white-space: pre-wrap; max-width: 40rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f7f9; padding: .6rem; border-radius: 4px;
      font: .82rem/1.4 ui-monospace, "DejaVu Sans Mono", monospace; max-height: 40rem; overflow: auto; }
.chosen { background: #eaf6ec; } .chosen td:first-child::before { content: "✔ "; color: #2a8a3e; }
.muted { color: #5b6475; } .pill { border: 1px solid #c5cad4; border-radius: 9px; padding: 0 .45rem; font-size: .8rem; }
del { background: #fde4e1; text-decoration: line-through; } ins { background: #e1f5e4; text-decoration: none; }
.pager a, .pager span { margin-right: .6rem; }
"""

BASE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{% block title %}{% endblock %}</title>
<style>{{ css }}</style></head><body>
<p class="muted"><a href="/">{{ run.name }}</a> · {{ run.stage }} run · {{ total_samples }} samples · read only</p>
{% block body %}{% endblock %}</body></html>"""

LIST = """{% extends "base" %}{% block title %}{{ run.name }}: samples{% endblock %}{% block body %}
<h1>Samples</h1>
<form class="filters" method="get" action="/">
 <label>search <input type="search" name="q" value="{{ query.q }}" placeholder="words in code or instructions"></label>
 <label>language <select name="language"><option value="">any</option>{% for v in languages %}
   <option value="{{ v }}"{% if v == query.language %} selected{% endif %}>{{ v }}</option>{% endfor %}</select></label>
 <label>verdict <select name="verdict"><option value="">any</option>{% for v in verdicts %}
   <option value="{{ v }}"{% if v == query.verdict %} selected{% endif %}>{{ v }}</option>{% endfor %}</select></label>
 <label>score ≥ <input type="number" step="any" name="min_score" value="{{ query.min_score if query.min_score is not none else '' }}"></label>
 <label>score ≤ <input type="number" step="any" name="max_score" value="{{ query.max_score if query.max_score is not none else '' }}"></label>
 {% if rounds %}<label>round <select name="round"><option value="">any</option>{% for v in rounds %}
   <option value="{{ v }}"{% if v == query.round|string %} selected{% endif %}>{{ v }}</option>{% endfor %}</select></label>{% endif %}
 <label>{{ selected_label }} <select name="selected"><option value="">either</option>
   <option value="yes"{% if query.selected == 'yes' %} selected{% endif %}>yes</option>
   <option value="no"{% if query.selected == 'no' %} selected{% endif %}>no</option></select></label>
 <button type="submit" id="apply">apply</button> <a href="/">clear</a>
</form>
<p id="count">{{ page.total }} matching · page {{ page.page }} of {{ page.pages }}</p>
<table id="samples"><thead><tr><th>id</th><th>language</th><th>verdict</th><th>score</th>{% if rounds %}<th>round</th>{% endif %}
<th>{{ selected_label }}</th><th>instruction / title</th></tr></thead><tbody>
{% for r in page.rows %}<tr><td><a href="/sample/{{ r.rowid }}">{{ r.sid }}</a></td><td>{{ r.language or '–' }}</td>
<td><span class="pill">{{ r.verdict or '–' }}</span></td><td class="num">{{ '%.3f'|format(r.score) if r.score is not none else '–' }}</td>
{% if rounds %}<td class="num">{{ r.round if r.round is not none else '–' }}</td>{% endif %}
<td>{{ 'yes' if r.selected else 'no' }}</td><td class="title">{{ r.title }}</td></tr>{% endfor %}
</tbody></table>
<p class="pager">{% if page.page > 1 %}<a href="?{{ link(page.page - 1) }}" id="prev">← previous</a>{% endif %}
{% if page.page < page.pages %}<a href="?{{ link(page.page + 1) }}" id="next">next →</a>{% endif %}</p>
{% endblock %}"""

SAMPLE = """{% extends "base" %}{% block title %}{{ fields.sid }}{% endblock %}{% block body %}
<h1>{{ fields.sid }}</h1>
<p><span class="pill">{{ fields.language or '–' }}</span> verdict <b id="verdict">{{ fields.verdict or '–' }}</b>
 · score {{ '%.3f'|format(fields.score) if fields.score is not none else '–' }}
 {% if fields.round is not none %}· round {{ fields.round }}{% endif %} · {{ selected_label }}: {{ 'yes' if fields.selected else 'no' }}</p>
{% if stage == 'inverse' %}
<h2>Code</h2><pre id="code">{{ cut(row.code) }}</pre>
<h2>Candidate instructions</h2>
<table id="candidates"><thead><tr><th>#</th><th>instruction</th><th>score</th><th>rejected</th><th>round trip</th></tr></thead><tbody>
{% for c in row.candidates or [] %}<tr class="{{ 'chosen' if loop.index0 in (row.selected or []) else '' }}">
<td>{{ loop.index0 }}</td><td class="title">{{ cut(c.instruction) if c.instruction else '(empty: ' ~ cut(c.raw) ~ ')' }}</td>
<td class="num">{{ '%.3f'|format(c.score) if c.score is number else '–' }}</td><td>{{ c.rejected or '' }}</td>
<td>{{ c.roundtrip.verdict if c.roundtrip is mapping and c.roundtrip.verdict else '' }}</td></tr>{% endfor %}</tbody></table>
{% if row.status != 'ok' %}<p>LLM step outcome: <b>{{ row.status }}</b> {{ row.detail }}</p>{% endif %}
{% if diff %}<h2>Original vs generated instruction</h2><pre id="diff">{% for kind, text in diff %}{% if kind == 'del' %}<del>{{ text }}</del>{% elif kind == 'add' %}<ins>{{ text }}</ins>{% else %}{{ text }}{% endif %}{% endfor %}</pre>{% endif %}
{% elif stage == 'agents' %}
<h2>Instruction</h2><pre id="instruction">{{ cut(row.instruction) }}</pre>
<h2>Solution</h2><pre id="code">{{ cut(row.solution) }}</pre>
<h2>Tests</h2><pre>{{ cut(row.tests) }}</pre>
<h2>Sandbox verdict</h2><p>{{ row.verdict }} (first try: {{ row.first_verdict }}, repairs: {{ row.repairs }})</p>
{% if row.verdict_message %}<pre>{{ cut(row.verdict_message) }}</pre>{% endif %}
<h2>Reflection</h2>
{% if row.scores is mapping %}<table id="scores"><tbody>{% for k, v in row.scores.items() %}<tr><td>{{ k }}</td><td class="num">{{ v }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% for c in row.critiques or [] %}<pre>{{ cut(c if c is string else c|tojson) }}</pre>{% endfor %}
<h2>Lineage</h2><ul>{% for p in row.parents or [] %}<li>{{ p.kind }} {{ p.id }} from agent {{ p.agent }} ({{ p.language }})</li>{% endfor %}</ul>
{% if diff %}<h2>Parent instruction vs this one</h2><pre id="diff">{% for kind, text in diff %}{% if kind == 'del' %}<del>{{ text }}</del>{% elif kind == 'add' %}<ins>{{ text }}</ins>{% else %}{{ text }}{% endif %}{% endfor %}</pre>{% endif %}
{% elif stage == 'eval' %}
<h2>Prompt</h2><pre id="prompt">{{ cut(row.prompt) }}</pre>
{% for s in row.samples or [] %}<h2>Sample {{ loop.index0 }}: <span class="pill">{{ s.verdict }}</span></h2>
<pre id="code">{{ cut(s.code) }}</pre>{% if s.message %}<p>{{ cut(s.message) }}</p>{% endif %}
{% if s.stderr %}<pre>{{ cut(s.stderr) }}</pre>{% endif %}{% endfor %}
{% endif %}
{% endblock %}"""
