"""Liveness and readiness pages on the worker's web server (for container and k8s probes).

``/healthz`` answers while the event loop runs and the app has not crashed: a failure means
"restart me". ``/readyz`` answers 200 only once the worker completed a rebalance and is neither
rebalancing nor recovering tables, so an orchestrator waits for it (and does not count it as
available) while its state is incomplete.
"""

from __future__ import annotations

import faust

from newsflow.processor.sensor import NewsflowMonitor, is_ready


def install_health(app: faust.App, monitor: NewsflowMonitor) -> None:
    @app.page("/healthz")
    async def healthz(self: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        if app.crashed:
            return self.json({"status": "crashed"}, status=503)
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        ready, reason = is_ready(app, monitor)
        return self.json({"ready": ready, "reason": reason}, status=200 if ready else 503)
