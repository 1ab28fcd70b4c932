"""The API process's monitoring: probes on the API port, `/metrics` for operators only.

The API port is the one every reader reaches (dashboards, partners, the public page), so its
`/metrics` passes the API's access control like any endpoint: only an `operator` token reads it
(`projections.access.policy.OPERATORS_ONLY`); no token is 401, any other token 403, each
logged in the access log. `/healthz` and `/readyz` stay open there: orchestrator probes carry no
token, and they say nothing about people. A Prometheus that scrapes without a token uses the
process's separate monitoring port instead (`$SENDX_METRICS_PORT`, bound to
`$SENDX_METRICS_HOST`, loopback by default), as every service and projector does.
"""

from __future__ import annotations

from fastapi import FastAPI, Response

from projections.access.policy import OPERATORS_ONLY
from runtime.health import Monitor, add_monitoring


def install_monitoring(app: FastAPI, monitor: Monitor) -> FastAPI:
    """`/healthz` and `/readyz` open, `/metrics` behind the operator token (when access is on)."""
    add_monitoring(app, monitor, metrics=False)

    async def metrics() -> Response:
        body, content_type = await monitor.exposition()
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False,
                      openapi_extra=OPERATORS_ONLY, summary="Prometheus metrics (operators)")
    return app
