"""Statistics: the five rates with their numerators and denominators by community, unit,
category or month, as charts and a table, with the API's CSV; and the supervisors' review
queue. Figures come from GET /v1/stats, scoped by the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.client import Api, ApiError
from api.console.web import ApiDep, Signed, error_text, render
from api.console.words import chosen
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import RATE_KEYS

router = APIRouter(prefix="/console/stats", include_in_schema=False)

CUTS = ("community", "unit", "category", "month")
# Reference data that names each cut's codes (a month is its own name).
NAMES = {"community": "/v1/communities", "unit": "/v1/units", "category": "/v1/categories"}


def _period(request: Request) -> tuple[str, str, str]:
    today = datetime.now(SUBDISTRICT_TZ).date()
    first = request.query_params.get("from") or today.replace(month=1, day=1).isoformat()
    last = request.query_params.get("to") or today.isoformat()
    cut = request.query_params.get("by", "community")
    return first, last, cut if cut in CUTS else "community"


async def _names(api: Api, cut: str) -> dict[str, str]:
    if cut not in NAMES:
        return {}
    return {item["code"]: item["name"] for item in await api.get(NAMES[cut])}


@router.get("", response_class=HTMLResponse)
async def stats_page(request: Request, who: Signed, api: ApiDep) -> Response:
    first, last, cut = _period(request)
    context: dict[str, Any] = {"first": first, "last": last, "cut": cut, "cuts": CUTS}
    try:
        answer = await api.get("/v1/stats", **{"from": first, "to": last, "group_by": cut})
        reviews = await api.get("/v1/reviews") if who.may("reviews") else {"items": []}
    except ApiError as error:
        return render(
            request,
            "stats.html",
            who,
            status=error.status,
            error=error_text(request, error),
            rows=[],
            total=None,
            chart={"height": 0},
            reviews=[],
            **context,
        )
    names = await _names(api, cut)
    rows = []
    for row in answer["rows"]:
        code = row["group"].get(cut) or "-"
        rows.append({**row, "code": code, "label": names.get(code, code)})
    said = chosen(request)
    chart = {
        "rows": [{"label": r["label"], "rates": r["rates"]} for r in rows],
        "rate_words": said.RATE,
        "horizontal": cut != "month",  # names read across, one bar a line
        # A bar a line for the names, the months side by side.
        "height": max(260, 26 * len(rows) + 80) if cut != "month" else 300,
    }
    return render(
        request,
        "stats.html",
        who,
        rows=rows,
        total=answer["total"],
        chart=chart,
        rates=RATE_KEYS,
        reviews=reviews["items"],
        **context,
    )


@router.get("/download.csv")
async def stats_csv(request: Request, who: Signed, api: ApiDep) -> Response:
    first, last, cut = _period(request)
    text = await api.get_text(
        "/v1/stats", "text/csv", **{"from": first, "to": last, "group_by": cut}
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="gridcase-{cut}-{first}-{last}.csv"'
        },
    )
