"""Prometheus metrics of this worker process, and who may read them.

**Per worker.** Each Daphne process keeps its own numbers in prometheus-client's default registry
(with the process collector: memory, CPU, open files of that worker) and serves them at
`/metrics`; Prometheus scrapes every worker directly (each port of `scripts/prodlike`, each
replica of compose's `web` service through DNS service discovery), never through the proxy, which
would hand each scrape to a different worker. Every sample carries `worker="<host>:<pid>"` (or
LIVEBLOG_WORKER_NAME), so two workers' series never merge even if they are scraped through one
address. prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR) is not used: it is
made for forking servers that share one port, needs a directory wiped at every start, and would
sum away the per-worker view that tells an operator *which* worker holds the sockets or is slow.

**Who records.** `ops` is the bottom layer (infrastructure: it imports no app of ours), so the
domain's broadcast (posts/broadcast.py), the hub and consumer (live/), the catch-up view and the
503 middleware (liveblog/) call the functions below, named after what happened, directly. A
Django signal from posts would hide that dependency without removing it and cost a dispatch per
frame; tests/test_architecture.py allows posts → ops for this reason. Login lockouts come from
django-axes' `user_locked_out` signal (connected in ops/apps.py).

Labels stay bounded: `blog` is the slug of a blog with open sockets here (the series is removed
with its last socket), `kind`, `stage`, `reason` and `outcome` are fixed small sets.
"""

from __future__ import annotations

import hmac
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ops.clients import in_networks, request_client_ip

READER_SOCKETS = Gauge(
    "liveblog_reader_sockets",
    "Reader WebSockets open on this worker, per blog (slug), counted from joining the blog's live "
    "updates until the socket ends.",
    ["blog"],
)
FRAMES_SENT = Counter(
    "liveblog_frames_sent",
    "Frames this worker handed to reader sockets: kind is the event kind (post.created, "
    "post.updated, blog.archived, ...) for event frames, else the frame type (hello, ping, error).",
    ["kind"],
)
BROADCAST_LATENCY = Histogram(
    "liveblog_broadcast_latency_seconds",
    "Seconds from a write's commit (the on_commit callback right after the service's COMMIT) to: "
    "stage=layer_send, the channel layer accepting the rendered event, observed in the worker that "
    "published (includes rendering); stage=fanout, this worker's hub having handed the frame to "
    "every local reader of the blog, observed in each worker with readers (wall clocks: workers "
    "on other hosts need synchronized clocks).",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BROADCAST_FAILURES = Counter(
    "liveblog_broadcast_failures",
    "Committed events this worker could not push to the channel layer (readers get them from the "
    "event log: heartbeat, catch-up), by reason: timeout (the layer hung), error (it refused), "
    "breaker_open (not tried: the layer timed out within the last few seconds).",
    ["reason"],
)
BREAKER_OPENS = Counter(
    "liveblog_broadcast_breaker_opens",
    "Times this worker stopped trying the channel layer for a while after a push timed out.",
)
CATCH_UPS = Counter(
    "liveblog_catch_up_requests",
    "Catch-up requests (/live/<slug>/events/) this worker answered, by outcome: cached (the same "
    "answer was rendered within seconds), rendered, busy (503: too many at once), rate_limited "
    "(429: this client asked too often), bad_request, not_found. Requests that hit an unreachable "
    "database count under liveblog_http_503_responses.",
    ["outcome"],
)
UNAVAILABLE = Counter(
    "liveblog_http_503_responses",
    "HTTP 503 answers of this worker, by reason: database (unreachable, timed out or out of "
    "pooled connections), catch_up_busy (too many catch-ups at once), not_ready (/readyz).",
    ["reason"],
)
LOGIN_LOCKOUTS = Counter(
    "liveblog_login_lockouts",
    "Login attempts django-axes refused as locked out on this worker: the failure that reaches "
    "the limit and every further attempt during the cool-off.",
)

_readers_lock = threading.Lock()
_readers: dict[str, int] = {}


def reader_joined(blog: str) -> None:
    with _readers_lock:
        _readers[blog] = _readers.get(blog, 0) + 1
        READER_SOCKETS.labels(blog).set(_readers[blog])


def reader_left(blog: str) -> None:
    with _readers_lock:
        if blog not in _readers:
            return
        count = _readers[blog] - 1
        if count > 0:
            _readers[blog] = count
            READER_SOCKETS.labels(blog).set(count)
            return
        del _readers[blog]
        # No series for a blog without readers here: the label set stays as small as the live blogs.
        READER_SOCKETS.remove(blog)


def frames_sent(kind: str, count: int = 1) -> None:
    if count > 0:
        FRAMES_SENT.labels(kind).inc(count)


def broadcast_sent(committed_at: float) -> None:
    BROADCAST_LATENCY.labels("layer_send").observe(max(0.0, time.time() - committed_at))


def fanned_out(committed_at: float | None) -> None:
    """A hub handed an event to its readers; `committed_at` from the layer message (None: older sender)."""
    if committed_at is not None:
        BROADCAST_LATENCY.labels("fanout").observe(max(0.0, time.time() - committed_at))


def broadcast_failed(reason: str, events: int) -> None:
    if events > 0:
        BROADCAST_FAILURES.labels(reason).inc(events)


def breaker_opened() -> None:
    BREAKER_OPENS.inc()


def catch_up(outcome: str) -> None:
    CATCH_UPS.labels(outcome).inc()


def unavailable(reason: str) -> None:
    UNAVAILABLE.labels(reason).inc()


def login_locked_out(sender: object, **kwargs: Any) -> None:
    """Receiver of axes.signals.user_locked_out."""
    LOGIN_LOCKOUTS.inc()


# Exposition ----------------------------------------------------------------------------------


def worker_name() -> str:
    return getattr(settings, "LIVEBLOG_WORKER_NAME", "") or f"{socket.gethostname()}:{os.getpid()}"


class _WithWorker(Collector):
    """The registry's samples with this worker's `worker` label added (read at each scrape)."""

    def collect(self) -> Iterator[Metric]:
        worker = worker_name()
        for family in REGISTRY.collect():
            family.samples = [
                sample._replace(labels={**sample.labels, "worker": worker}) for sample in family.samples
            ]
            yield family


def exposition() -> bytes:
    """This worker's metrics in Prometheus' text format."""
    return generate_latest(_WithWorker())


def check_scrape_allowed(request: HttpRequest) -> int | None:
    """None when the request may read the metrics, else the status to refuse it with.

    404 while LIVEBLOG_METRICS_TOKEN is unset (there is no endpoint); 403 for a missing or wrong
    bearer token (compared in constant time) or, with LIVEBLOG_METRICS_NETWORKS set, a client
    address outside those networks.
    """
    token = getattr(settings, "LIVEBLOG_METRICS_TOKEN", "")
    if not token:
        return 404
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        offered.strip().encode("utf-8"), token.encode("utf-8")
    ):
        return 403
    networks = getattr(settings, "LIVEBLOG_METRICS_NETWORKS", [])
    if networks and not in_networks(request_client_ip(request), networks):
        return 403
    return None
