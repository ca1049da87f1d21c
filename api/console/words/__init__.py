"""The console's words, one table per language (Simplified Chinese first, English second): every
status, action, deadline kind, event, error and piece of the page. A code without a word shows
as itself. The language is chosen with `?lang=en` (kept in a cookie)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from domain.calendar import SUBDISTRICT_TZ

LANG_COOKIE = "gridcase_lang"


@dataclass(frozen=True)
class Words:
    code: str  # zh | en: ?lang=
    html_lang: str  # the page's lang attribute
    STATUS: dict[str, str]
    ACTION: dict[str, str]
    DEADLINE: dict[str, str]
    DEADLINE_STATE: dict[str, str]
    EVENT: dict[str, str]
    CHANNEL: dict[str, str]
    SEVERITY: dict[str, str]
    GRADE: dict[str, str]
    OUTCOME: dict[str, str]
    ROLE: dict[str, str]
    ERROR: dict[str, str]
    RATE: dict[str, str]
    FIELD: dict[str, str]
    LINKAGE: dict[str, str]  # a linkage's status
    AGENCY: dict[str, str]  # an agency's part in it
    CHOICE: dict[str, dict[str, str]]  # an input's enum (by its class name) -> value -> word
    YES_NO: tuple[tuple[str, str], ...]
    UI: dict[str, str]  # the page's own words
    DURATION: tuple[str, str, str]  # days, hours, minutes: format strings

    def error(self, code: str, detail: str) -> str:
        return self.UI["error_detail"].format(self.ERROR.get(code, code), detail)

    def span(self, delta: timedelta) -> str:
        minutes = int(abs(delta).total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return self.DURATION[0].format(days, hours)
        if hours:
            return self.DURATION[1].format(hours, minutes)
        return self.DURATION[2].format(minutes)

    def time_left(self, due: datetime | str, now: datetime) -> str:
        if isinstance(due, str):
            due = datetime.fromisoformat(due)
        left = due - now
        key = "time_left" if left.total_seconds() >= 0 else "time_over"
        return self.UI[key].format(self.span(left))


def local(moment: datetime | str | None) -> str:
    """A time as the subdistrict reads it."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(SUBDISTRICT_TZ).strftime("%Y-%m-%d %H:%M")


from api.console.words.en import EN  # noqa: E402  (the tables need Words)
from api.console.words.zh import ZH  # noqa: E402

__all__ = ["EN", "LANGUAGES", "ZH", "Words", "chosen", "local"]

LANGUAGES = {ZH.code: ZH, EN.code: EN}


def chosen(request: Request) -> Words:
    """`?lang=` on this request, else the cookie, else Chinese."""
    code = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or ZH.code
    return LANGUAGES.get(code, ZH)
