"""The browse app: Starlette (small, well kept, ASGI) serving GET pages from the index.

Read only by construction: only GET routes, the index opened ``query_only``, the run's files
opened for reading. Every value is escaped by Jinja2; a Content-Security-Policy without any
script source makes even an escaping slip inert.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup

from xinstruct.browse.diff import word_diff
from xinstruct.browse.index import Index, Query
from xinstruct.browse.templates import BASE, CSS, LIST, SAMPLE

MAX_SHOWN = 200_000
"""Characters of one field a page shows; a huge line is cut with a note instead of freezing the tab."""

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _cut(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"\n… [{len(text) - MAX_SHOWN:,} more characters not shown]"


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def create_app(index: Index) -> Any:
    try:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import HTMLResponse
        from starlette.routing import Route
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("browse needs starlette and uvicorn: pip install 'xinstruct[report]'") from exc

    env = jinja2.Environment(loader=jinja2.DictLoader({"base": BASE, "list": LIST, "sample": SAMPLE}),
                             autoescape=True, undefined=jinja2.ChainableUndefined)
    run = index.run
    common = {"run": run, "css": Markup(CSS), "total_samples": index.count(), "cut": _cut,
              "selected_label": {"inverse": "selected", "agents": "kept", "eval": "any pass"}.get(run.stage, "selected")}
    languages, verdicts, rounds = index.choices("language"), index.choices("verdict"), index.choices("round")

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**common, **values), status_code=status, headers=HEADERS)

    async def list_page(request: Request) -> HTMLResponse:
        p = request.query_params
        query = Query(q=p.get("q", ""), language=p.get("language", ""), verdict=p.get("verdict", ""),
                      min_score=_float(p.get("min_score")), max_score=_float(p.get("max_score")),
                      round=_int(p.get("round")), selected=p.get("selected", ""), page=_int(p.get("page"), 1) or 1)
        result = index.search(query)

        def link(n: int) -> str:
            return urlencode({**{k: v for k, v in p.items() if k != "page"}, "page": n})

        return page("list", query=query, page=result, languages=languages, verdicts=verdicts, rounds=rounds, link=link)

    async def sample_page(request: Request) -> HTMLResponse:
        found = index.row(_int(request.path_params["rowid"], 0) or 0)
        if found is None:
            return HTMLResponse("no such sample", status_code=404, headers=HEADERS)
        fields, row = found
        diff = None
        if run.stage == "inverse" and row.get("original_instruction") and fields["selected"]:
            cands, sel = row.get("candidates") or [], row.get("selected") or []
            chosen = cands[sel[0]].get("instruction") if sel and sel[0] < len(cands) else None
            if chosen:
                diff = word_diff(_cut(row["original_instruction"]), _cut(chosen))
        elif run.stage == "agents":  # the first parent that is a sample of this run: its instruction vs this one
            for parent in row.get("parents") or []:
                hit = index.by_sid(str(parent.get("id"))) if isinstance(parent, dict) else None
                if hit is not None and hit[1].get("instruction") and row.get("instruction"):
                    diff = word_diff(_cut(hit[1]["instruction"]), _cut(row["instruction"]))
                    break
        return page("sample", fields=fields, row=row, stage=run.stage, diff=diff)

    return Starlette(routes=[Route("/", list_page), Route("/sample/{rowid}", sample_page)])
