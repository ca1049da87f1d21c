"""Statistics: the five rates with their numerators and denominators by community, unit,
category or month, as charts and a table, with the API's CSV; by unit or community, the month's
ranking (考评); the supervisors' review queue; and flow analytics as charts. Figures come from
GET /v1/stats, GET /v1/scores and GET /v1/flow, scoped by the API."""

from __future__ import annotations

from datetime import datetime, timedelta
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
RANKED = ("community", "unit")  # the cuts /v1/scores ranks


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
            ranking=[],
            **context,
        )
    names = await _names(api, cut)
    ranking = await _ranking(api, cut, last, names)
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
        ranking=ranking,
        month=last[:7],
        **context,
    )


async def _ranking(api: Api, cut: str, last: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """The ranking of the month the period ends in, when the cut is one /v1/scores ranks."""
    if cut not in RANKED:
        return []
    answer = await api.get("/v1/scores", month=last[:7], by=cut)
    return [
        {**row, "label": names.get(row["group"][cut], row["group"][cut])} for row in answer["rows"]
    ]


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


# The flow's charts show the rows that say most: the longest lists are cut to these many.
FLOW_TOP = 12


@router.get("/flow", response_class=HTMLResponse)
async def flow_page(request: Request, who: Signed, api: ApiDep) -> Response:
    """Time in each state, the open backlog's age, hand-offs per case and missed deadlines by
    grid for the cases received in the period (the last 30 days unless chosen)."""
    today = datetime.now(SUBDISTRICT_TZ).date()
    first = request.query_params.get("from") or (today - timedelta(days=29)).isoformat()
    last = request.query_params.get("to") or today.isoformat()
    context: dict[str, Any] = {"first": first, "last": last}
    try:
        flow = await api.get("/v1/flow", **{"from": first, "to": last})
    except ApiError as error:
        return render(
            request,
            "flow.html",
            who,
            status=error.status,
            error=error_text(request, error),
            flow=None,
            chart=None,
            **context,
        )
    units = {u["code"]: u["name"] for u in await api.get("/v1/units")}
    categories = await _names(api, "category")
    said = chosen(request)
    stays = sorted(flow["time_in_state"], key=lambda r: -r["stays"])[:FLOW_TOP]
    breaches = sorted(flow["breaches"], key=lambda r: -r["breaches"])[:FLOW_TOP]
    chart = {
        "top": FLOW_TOP,
        "states": {
            "labels": [
                " · ".join(
                    [
                        said.STATUS.get(r["state"], r["state"]),
                        units.get(r["unit"], r["unit"] or "-"),
                        categories.get(r["category"], r["category"]),
                    ]
                )
                for r in stays
            ],
            "p50": [r["p50_hours"] for r in stays],
            "p90": [r["p90_hours"] for r in stays],
        },
        "backlog": {
            "labels": list(flow["backlog_total"]),
            "values": list(flow["backlog_total"].values()),
        },
        "handoffs": {
            "labels": [categories.get(r["category"], r["category"]) for r in flow["handoffs"]],
            "values": [r["per_case"] for r in flow["handoffs"]],
        },
        "breaches": {
            "labels": [r["grid"] or "-" for r in breaches],
            "values": [r["breaches"] for r in breaches],
        },
    }
    return render(request, "flow.html", who, flow=flow, chart=chart, **context)
