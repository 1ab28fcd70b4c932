"""Swagger UI at /docs and ReDoc at /redoc, served from the package: no CDN, no internet needed.

FastAPI's own pages load their JavaScript and CSS from a CDN, which leaves a blank page on a
machine without internet (where partnerships often run this). The assets come from the
`fastapi-offline` package (Swagger UI, Apache-2.0; ReDoc, MIT; their licences travel with the
package) and are mounted at `/docs-assets`; FastAPI's `get_swagger_ui_html`/`get_redoc_html`
point at them. Public pages: the document they render is public too (`/openapi.json`).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from projections.access.policy import PUBLIC

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets; create the app with `docs_url=redoc_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False, openapi_extra=PUBLIC)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False, openapi_extra=PUBLIC)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} — ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False,
        )
