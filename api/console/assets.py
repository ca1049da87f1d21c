"""The console's static files (its own and the vendored libraries, with their licences)."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"


def asset_url(path: str) -> str:
    return f"{STATIC_PATH}/{path}"


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
