"""/docs and /redoc with their assets served from this package: a city's intranet reaches no CDN."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.console.assets import asset_url

router = APIRouter(include_in_schema=False)

# Nothing from elsewhere, even what a bundle asks for by itself (ReDoc's footer logo).
LOCAL_ONLY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:"
)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = LOCAL_ONLY
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _local_only(
        get_swagger_ui_html(
            openapi_url=str(request.app.openapi_url),
            title="gridcase API",
            swagger_js_url=asset_url("vendor/swagger-ui/swagger-ui-bundle.js"),
            swagger_css_url=asset_url("vendor/swagger-ui/swagger-ui.css"),
            swagger_favicon_url=asset_url("vendor/swagger-ui/favicon-32x32.png"),
            # The token pasted into Authorize survives a reload of the page.
            swagger_ui_parameters={"persistAuthorization": True},
        )
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _local_only(
        get_redoc_html(
            openapi_url=str(request.app.openapi_url),
            title="gridcase API",
            redoc_js_url=asset_url("vendor/redoc/redoc.standalone.js"),
            redoc_favicon_url=asset_url("vendor/swagger-ui/favicon-32x32.png"),
            with_google_fonts=False,
        )
    )
