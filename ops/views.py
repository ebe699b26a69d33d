"""Health endpoints for the proxy and the orchestrator.

`/healthz`: the process is alive and serving (no service is asked; a restart would not help when a
dependency is down). `/readyz`: the database and, where configured, Redis answer within
READY_TIMEOUT; a worker that is not ready gets no new traffic, and keeps its open sockets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from ops import metrics as worker_metrics

READY_TIMEOUT = 1.0
# A hung service keeps a check's thread busy; a few threads bound what hung checks can hold, and a
# check that cannot even start within the timeout counts as a timeout too.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection: back to the pool, or closed


def _redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def checks() -> dict[str, Callable[[], None]]:
    found: dict[str, Callable[[], None]] = {"database": _database}
    if getattr(settings, "REDIS_URL", ""):
        found["redis"] = _redis
    return found


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every service answered within READY_TIMEOUT, else 503 naming which did not."""
    started = time.monotonic()
    running = {name: _pool.submit(check) for name, check in checks().items()}
    results: dict[str, str] = {}
    for name, future in running.items():
        try:
            future.result(timeout=max(0.0, started + READY_TIMEOUT - time.monotonic()))
            results[name] = "ok"
        except FutureTimeout:
            future.cancel()  # never started: drop it
            results[name] = "timeout"
        except Exception:  # whatever the driver raises: the service is not usable now
            results[name] = "unavailable"
    ready = all(result == "ok" for result in results.values())
    if not ready:
        worker_metrics.unavailable("not_ready")
    return JsonResponse({"ready": ready, "checks": results}, status=200 if ready else 503)


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """This worker's Prometheus metrics, for a scraper with the bearer token (ops/metrics.py).

    Refusals are plain text: the site's error pages would build links from a Host nobody checked
    (see metrics_before_host_checks, the only way here).
    """
    refusal = worker_metrics.check_scrape_allowed(request)
    if refusal is not None:
        text = b"not found\n" if refusal == 404 else b"forbidden\n"
        return HttpResponse(text, status=refusal, content_type="text/plain; charset=utf-8")
    return HttpResponse(worker_metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_before_host_checks(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware, above SecurityMiddleware and CommonMiddleware: `/metrics` answered first.

    Prometheus scrapes each worker by its own address over the private network (compose: DNS
    service discovery of `web`, so `Host: 172.31.240.7:8000`, plain http): a Host outside
    DJANGO_ALLOWED_HOSTS and no https. The endpoint builds nothing from the Host, so host validation
    and the SSL redirect protect nothing here; the token and the optional networks do, and the
    proxy answers /metrics itself with a 404 (deploy/nginx).
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        return metrics(request) if request.path_info == "/metrics" else get_response(request)

    return middleware
