"""Holidays are reference data: seeded from config/holidays.yaml, corrected by an import, and
read by routing into the working days a case records (so a correction never moves an open
case's due times)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import reference
from db.models import Holiday
from domain.calendar import WorkingDays


async def test_routing_reads_the_seeded_schedule_and_an_imported_correction(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session:
        autumn = await reference.working_days(session, date(2026, 9, 28))
    assert not autumn.is_working_day(date(2026, 10, 1))  # National Day, seeded
    assert autumn.is_working_day(date(2026, 10, 10))  # the Saturday worked (调休)
    assert not autumn.is_working_day(date(2026, 12, 26))  # an ordinary Saturday

    correction = tmp_path / "correction.yaml"
    correction.write_text("- day: 2026-12-26\n  working: true\n  name: 调休\n", encoding="utf-8")
    try:
        async with sessions.begin() as session:
            assert await reference.import_holidays(session, reference.read_holidays(correction))
        async with sessions() as session:
            corrected = await reference.working_days(session, date(2026, 9, 28))
        assert corrected.is_working_day(date(2026, 12, 26))
        # What a case recorded before the correction is what it keeps counting with.
        assert not autumn.is_working_day(date(2026, 12, 26))
    finally:
        async with sessions.begin() as session:
            await session.execute(delete(Holiday).where(Holiday.day == date(2026, 12, 26)))


async def test_a_year_the_table_does_not_cover_falls_back_to_weekdays_and_fixed_holidays(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        unknown = await reference.working_days(session, date(2099, 1, 1))
    assert unknown == WorkingDays()
    assert not unknown.is_working_day(date(2099, 10, 1))


def test_a_holidays_file_without_day_or_working_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- day: someday\n  working: yes please\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"day \(YYYY-MM-DD\)"):
        reference.read_holidays(bad)
