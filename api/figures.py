"""What the routes of figures (/v1/stats, /v1/flow, /v1/scores) share: the period they cover,
from the `from` and `to` query parameters, and their CSV answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from api.edge import instant
from api.errors import InvalidQuery
from domain.kpi import InvalidStatsQuery, local_range, parse_bound


class Period:
    """[start, end) of the cases received from `from` to `to`: local days (Asia/Shanghai, `to`
    included) or ISO datetimes (`to` excluded), at most three years; anything else is a 422."""

    def __init__(
        self,
        from_: Annotated[
            str,
            Query(
                alias="from",
                description="First local day (YYYY-MM-DD, Asia/Shanghai) or an ISO datetime",
                examples=["2026-01-01"],
            ),
        ],
        to: Annotated[
            str,
            Query(
                description="Last local day, included; an ISO datetime is an exclusive end",
                examples=["2026-03-31"],
            ),
        ],
    ) -> None:
        try:
            self.first: date | datetime = parse_bound(from_, "from")
            self.last: date | datetime = parse_bound(to, "to")
            start, end = local_range(self.first, self.last)
        except InvalidStatsQuery as invalid:
            raise InvalidQuery(str(invalid), invalid.details) from None
        except OverflowError:  # a day after 9999-12-31
            raise InvalidQuery("the period is outside the dates this system holds") from None
        self.start, self.end = instant(start, "from"), instant(end, "to")


PeriodDep = Annotated[Period, Depends()]


def wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "")


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
