"""The `gridcase` command: up (the whole embedded stack), worker, api, migrate, seed, and the demo
history and KPI commands (generate, stats)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from core import logs
from core.auth import issue
from core.config import Settings, StartupError, get_settings
from core.temporal import build_client, data_converter
from db import generate as history
from db import policies, reference, stats
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import RATE_KEYS, InvalidStatsQuery, check_group_by, local_range, parse_bound, total
from domain.permissions import Principal, Role
from domain.policy_change import PolicyFollowed
from worker.serve import ensure_port_free, run, serve
from worker.stack import EmbeddedPostgres, start_postgres, start_temporal
from worker.temporal_ui import free_port, read_only_ui
from workflows.policy import tell_open_cases

log = logging.getLogger("gridcase")


def _with_database(settings: Settings) -> Settings:
    """DATABASE_URL if set; otherwise the embedded PostgreSQL in the data folder."""
    if settings.database_url:
        return settings
    url = start_postgres(settings.data_dir)
    return settings.model_copy(update={"database_url": url})


async def _migrate_and_seed(settings: Settings) -> dict[str, int]:
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await reference.seed(session, settings.config_dir)
    finally:
        await engine.dispose()


async def reseed(settings: Settings, open_cases_follow: bool) -> dict[str, str | None]:
    """`gridcase seed`: reload the reference data. A policy whose limits changed reaches the
    running cases under it when `open_cases_follow`, as PUT /v1/policies/{code} does. Returns
    the changed policies' codes, each with its telling's workflow id (None: not told)."""
    await asyncio.to_thread(upgrade, settings.sqlalchemy_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine).begin() as session:
            before = await policies.every_policy(session)
            counts = await reference.seed(session, settings.config_dir)
            after = await policies.every_policy(session)
    finally:
        await engine.dispose()
    print("seeded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    changed = [p for code, p in after.items() if code in before and before[code] != p]
    told: dict[str, str | None] = {p.code: None for p in changed}
    client = await build_client(settings) if changed and open_cases_follow else None
    for policy in changed:
        if client is not None:
            followed = PolicyFollowed(policy=policy, actor="gridcase seed")
            told[policy.code] = await tell_open_cases(client, settings.task_queue, followed)
        print(
            f"{policy.code} changed: "
            + (f"its open cases are told ({told[policy.code]})" if client else "new cases use it")
        )
    return told


async def up(settings: Settings) -> None:
    """The laptop stack: embedded PostgreSQL and Temporal dev server unless DATABASE_URL and
    TEMPORAL_ADDRESS say otherwise, a worker and the API; stops every server it started."""
    embedded_temporal = settings.temporal_address is None
    ensure_port_free(settings.api_host, settings.api_port, "the API", "GRIDCASE_API_PORT")
    if embedded_temporal:
        for port, what, setting in (
            (settings.temporal_port, "Temporal", "GRIDCASE_TEMPORAL_PORT"),
            (settings.temporal_ui_port, "the Temporal UI", "GRIDCASE_TEMPORAL_UI_PORT"),
        ):
            ensure_port_free(settings.temporal_host, port, what, setting)
    postgres = None
    if settings.database_url is None:
        postgres = EmbeddedPostgres(settings.data_dir / "pg")
        postgres.start()
    try:
        if postgres is not None:
            settings = settings.model_copy(update={"database_url": postgres.url()})
        settings = laptop_only(settings)
        counts = await _migrate_and_seed(settings)
        log.info("reference data: %s", counts)
        env = None
        also = []
        if embedded_temporal:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            # The dev server's UI listens on a spare port; operators open it read-only, through
            # worker.temporal_ui, at the port the banner prints.
            hidden_ui_port = free_port(settings.temporal_host)
            env = await start_temporal(
                ip=settings.temporal_host,
                port=settings.temporal_port,
                ui_port=hidden_ui_port,
                database_file=settings.data_dir / "temporal.db",
                data_converter=data_converter(settings),
                ui_codec_endpoint=f"http://{settings.api_host}:{settings.api_port}/codec",
            )
            read_only = read_only_ui(f"http://{settings.temporal_host}:{hidden_ui_port}")
            also.append(
                uvicorn.Config(
                    read_only,
                    host=settings.temporal_host,
                    port=settings.temporal_ui_port,
                    log_level="warning",
                    log_config=None,  # through gridcase's handler (core/logs.py)
                )
            )
        try:
            banner = _banner(settings, env is not None)
            await serve(settings, worker=True, api=True, banner=banner, also=also)
        finally:
            if env is not None:
                await env.shutdown()
    finally:
        if postgres is not None and postgres.started:
            postgres.stop()


def laptop_only(settings: Settings) -> Settings:
    """What only the laptop stack (embedded Temporal) opens: the codec server to the dev UI, which
    cannot send a token, and the demo sign-in. Against external servers both stay shut, whatever
    the environment says, and the codec server wants an operator's token."""
    embedded = settings.temporal_address is None
    return settings.model_copy(update={"codec_open": embedded, "demo_signin": embedded})


def _banner(settings: Settings, embedded_temporal: bool) -> str:
    ui = (
        f"http://{settings.temporal_host}:{settings.temporal_ui_port}"
        if embedded_temporal
        else "(external server: see its own UI)"
    )
    api = f"http://{settings.api_host}:{settings.api_port}"
    return "\n".join(
        [
            "",
            "gridcase is up",
            f"  API          {api}",
            f"  API docs     {api}/docs",
            f"  Console      {api}/console",
            f"  Temporal     {settings.temporal_target}",
            f"  Temporal UI  {ui}",
            f"  data         {settings.data_dir if embedded_temporal else '-'}",
            "Tokens for this machine (Authorization: Bearer ...; more: gridcase token issue):",
            f"  dispatcher   {_token(settings, Role.dispatcher)}",
            f"  admin        {_token(settings, Role.admin)}",
            "Ctrl-C (or SIGTERM) stops everything; the data stays for the next start.",
            "",
        ]
    )


async def import_grids(settings: Settings, path: Path) -> dict[str, int]:
    """One transaction: a bad feature half-way imports nothing."""
    features = reference.read_geojson(path)
    engine = make_engine(settings, pool_size=1)
    try:
        with Progress() as progress:
            task = progress.add_task(f"importing {path.name}", total=len(features))
            async with make_sessionmaker(engine).begin() as session:
                return await reference.import_boundaries(
                    session, features, lambda n: progress.advance(task, n)
                )
    finally:
        await engine.dispose()


async def import_holidays(settings: Settings, path: Path) -> int:
    """One transaction; cases already routed keep the working days they recorded."""
    rows = reference.read_holidays(path)
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await reference.import_holidays(session, rows)
    finally:
        await engine.dispose()


async def generate_history(settings: Settings, cases: int, months: int, seed: int) -> None:
    """One transaction: an interrupted run leaves nothing behind."""
    engine = make_engine(settings, pool_size=1)
    try:
        with Progress() as progress:
            task = progress.add_task(f"generating {cases:,} historical cases", total=cases)
            async with make_sessionmaker(engine).begin() as session:
                made = await history.generate(
                    session,
                    cases=cases,
                    months=months,
                    seed=seed,
                    progress=lambda n: progress.advance(task, n),
                )
        print(f"generated {made.cases:,} cases received {made.start} .. {made.end} (exclusive)")
    finally:
        await engine.dispose()


async def print_stats(settings: Settings, first: str, last: str, group_by: list[str]) -> None:
    keys = check_group_by(group_by)
    start, end = local_range(parse_bound(first, "from"), parse_bound(last, "to"))
    engine = make_engine(settings, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await stats.case_stats(session, start=start, end=end, group_by=keys)
    finally:
        await engine.dispose()
    table = Table(title=f"cases received {first} .. {last}")
    for column in [*keys, "received", "closed", "open", "overdue", "unsatisfied", *RATE_KEYS]:
        table.add_column(column, justify="left" if column in keys else "right")
    for row in [*rows, total(rows)]:
        group = [row.group.get(k) or ("total" if not row.group else "-") for k in keys]
        counts = row.counts
        rates = [
            "-"
            if (r := row.rates[key]).value is None
            else f"{r.value:.1%} ({r.numerator}/{r.denominator})"
            for key in RATE_KEYS
        ]
        numbers = [counts.received, counts.closed, counts.open, counts.overdue, counts.unsatisfied]
        table.add_row(*group, *(str(n) for n in numbers), *rates)
    Console().print(table)


def _token(settings: Settings, role: Role, days: float = 30, **scope: Any) -> str:
    principal = Principal(subject=f"local-{role.value}", role=role, **scope)
    return issue(settings, principal, timedelta(days=days))


def _stopped() -> None:
    """A clean stop ends the process here, without the interpreter's teardown: the Temporal
    SDK's Rust threads can outlive the event loop and abort that teardown ("PyGILState_Release:
    thread state must be current", SIGABRT: sdk-python issue 300), which would turn a clean
    SIGTERM into exit code 134 for systemd and docker."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gridcase", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", help="start the embedded stack (or use DATABASE_URL/TEMPORAL_ADDRESS), worker and API"
    )
    commands.add_parser("worker", help="run a worker")
    commands.add_parser("api", help="run the HTTP API")
    commands.add_parser("migrate", help="apply database migrations")
    seed = commands.add_parser("seed", help="migrate, then load the reference data from config/")
    seed.add_argument(
        "--open-cases-follow",
        action="store_true",
        help="running cases under a policy whose limits changed recompute their deadlines "
        "(else only cases dispatched from now on use the new limits)",
    )
    grids = commands.add_parser(
        "import-grids", help="import micro-grid (and community) polygons from a GeoJSON file"
    )
    grids.add_argument(
        "file",
        type=Path,
        help="a FeatureCollection; properties: code, name, "
        "community (kind: community for a community's polygon)",
    )
    holidays = commands.add_parser(
        "holidays", help="working-day exceptions (public holidays, adjusted working days)"
    )
    holidays_commands = holidays.add_subparsers(dest="holidays_command", required=True)
    holidays_import = holidays_commands.add_parser(
        "import", help="upsert a holidays file (the keys of config/holidays.yaml)"
    )
    holidays_import.add_argument(
        "file", type=Path, help="YAML rows: day (YYYY-MM-DD), working (true/false), name"
    )
    demo = (
        "write DEMO HISTORY for KPIs and benchmarks straight into the case tables: "
        "past cases (GEN-YYYY-NNNNNN), closed and open, with their event logs; "
        "no workflows run, so they cannot be acted on"
    )
    generate = commands.add_parser("generate", help=demo, description=demo)
    generate.add_argument("--cases", type=int, required=True, help="how many cases")
    generate.add_argument("--months", type=int, default=12, help="whole months before this one")
    generate.add_argument("--seed", type=int, default=42, help="same seed, same history")
    today = datetime.now(SUBDISTRICT_TZ).date()
    show = commands.add_parser("stats", help="print the KPIs per group as a table")
    show.add_argument("--from", dest="first", default=today.replace(day=1).isoformat())
    show.add_argument("--to", dest="last", default=today.isoformat(), help="included")
    show.add_argument(
        "--group-by",
        action="append",
        default=[],
        help="community, grid, unit, category, channel, day, week or month (repeatable, or a,b)",
    )
    token = commands.add_parser("token", help="bearer tokens for local use")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue_token = token_commands.add_parser("issue", help="sign a token with the local secret")
    issue_token.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue_token.add_argument("--unit", help="unit_handler, agency: the unit code")
    issue_token.add_argument("--grids", help="grid_worker: comma-separated grid codes")
    issue_token.add_argument("--community", help="supervisor: a community (omit: subdistrict)")
    issue_token.add_argument("--case", help="resident: the case id")
    issue_token.add_argument("--subject", help="who it is (default: local-<role>)")
    issue_token.add_argument("--days", type=float, default=30)
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in invalid.errors()
        )
        sys.exit(f"gridcase: invalid setting: {problems}")
    logs.configure(settings.log_format)
    try:
        if args.command == "up":
            run(up(settings))
            _stopped()
        elif args.command == "worker":
            run(serve(_with_database(settings), worker=True, api=False))
            _stopped()
        elif args.command == "api":
            run(serve(_with_database(settings), worker=False, api=True))
            _stopped()
        elif args.command == "migrate":
            upgrade(_with_database(settings).sqlalchemy_url)
        elif args.command == "token":
            principal = Principal(
                subject=args.subject or f"local-{args.role}",
                role=Role(args.role),
                unit=args.unit,
                grids=tuple(g for g in (args.grids or "").split(",") if g),
                community=args.community,
                case_id=args.case,
            )
            print(issue(settings, principal, timedelta(days=args.days)))
        elif args.command == "import-grids":
            counts = asyncio.run(import_grids(_with_database(settings), args.file))
            print("imported: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        elif args.command == "holidays":
            count = asyncio.run(import_holidays(_with_database(settings), args.file))
            print(f"imported {count} holiday rows")
        elif args.command == "seed":
            asyncio.run(reseed(_with_database(settings), args.open_cases_follow))
        elif args.command == "generate":
            asyncio.run(
                generate_history(_with_database(settings), args.cases, args.months, args.seed)
            )
        elif args.command == "stats":
            keys = [k for value in args.group_by for k in value.split(",") if k]
            asyncio.run(print_stats(_with_database(settings), args.first, args.last, keys))
    except InvalidStatsQuery as invalid:
        parser.error(str(invalid))
    except StartupError as cannot:
        sys.exit(f"gridcase: {cannot}")
    except KeyboardInterrupt:
        print("\ngridcase stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
