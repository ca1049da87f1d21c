"""gridcase's own Prometheus metrics, served at the API's /metrics; the Temporal SDK's metrics
(task latency, sticky cache, poll failures) are served by each worker's Runtime
(core.temporal.metrics_runtime).

The case figures are read from PostgreSQL when Prometheus scrapes, so they are true for the
whole system whichever API instance answers, and cost one grouped query per scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Case, Notification

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "gridcase_http_requests",
    "HTTP requests answered, by route template, method and status (503: Temporal or "
    "PostgreSQL unavailable, the client retries)",
    ["route", "method", "status"],
    registry=REGISTRY,
)
CASES = Gauge("gridcase_cases", "Cases by status", ["status"], registry=REGISTRY)
OVERDUE = Gauge("gridcase_cases_overdue", "Open cases past a deadline", registry=REGISTRY)
ESCALATED = Gauge(
    "gridcase_cases_escalated", "Open cases on a rung of the escalation ladder", registry=REGISTRY
)
OUTBOX_BACKLOG = Gauge(
    "gridcase_outbox_backlog", "Notifications not delivered yet", registry=REGISTRY
)
OUTBOX_DEAD = Gauge(
    "gridcase_outbox_dead_letters",
    "Notifications given up (a permanent refusal, or too many attempts): GET /v1/outbox/dead",
    registry=REGISTRY,
)
OUTBOX_OLDEST = Gauge(
    "gridcase_outbox_oldest_seconds",
    "Age of the oldest undelivered notification (0 when none)",
    registry=REGISTRY,
)


async def exposition(session: AsyncSession) -> bytes:
    """Read the case and outbox figures, then render every metric in Prometheus' text format."""
    by_status = await session.execute(
        select(
            Case.status,
            func.count(),
            func.count().filter(Case.overdue, Case.status != "closed"),
            func.count().filter(Case.escalation_level > 0, Case.status != "closed"),
        ).group_by(Case.status)
    )
    overdue = escalated = 0
    CASES.clear()
    for status, count, late, laddered in by_status:
        CASES.labels(status).set(count)
        overdue += late
        escalated += laddered
    OVERDUE.set(overdue)
    ESCALATED.set(escalated)
    backlog, oldest = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.extract("epoch", func.now() - func.min(Notification.created_at)), 0
                ),
            ).where(Notification.unsent(), Notification.dead_at.is_(None))
        )
    ).one()
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST.set(float(oldest))
    OUTBOX_DEAD.set(
        await session.scalar(
            select(func.count()).where(Notification.dead_at.is_not(None), Notification.unsent())
        )
        or 0
    )
    return generate_latest(REGISTRY)
