"""Logs a machine can read: one JSON object per line in production, with the request's context.

settings.LOGGING picks the format (LIVEBLOG_LOG_FORMAT, default json without DEBUG, text with it)
and wires the pieces here:

- `JsonFormatter`: python-json-logger's, with the fields named `timestamp` (UTC, ISO 8601),
  `level`, `logger`, `message`, and a traceback as one string field `exception`, so a record with
  an exception is still one line that a log shipper keeps together.
- `RequestContextFilter` (on the handler, so it sees records of every logger): a record logged
  while a request is being answered carries `method`, `path` and `client` (the address behind our
  trusted proxies, ops/clients.py); so does django.request's line about a 4xx/5xx answer, which
  Django logs after the middleware has finished (from the request the record carries).
- `configure`: LOGGING_CONFIG; also routes Python warnings through logging, so that in production
  they are JSON lines too rather than two lines of text among them.
- `request_log` (middleware, outermost): one `liveblog.access` line per answered request with
  `status` and `duration_ms` besides the above. Daphne's own access log (stdout, its own format,
  the proxy's address) is separate; production can turn it off with `daphne --access-log /dev/null`.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from ops.clients import request_client_ip

access_logger = logging.getLogger("liveblog.access")

_request_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "liveblog_request_context", default=None
)


class JsonFormatter(BaseJsonFormatter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "{levelname}{name}{message}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        super().__init__(**kwargs)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # django.request attaches the HttpRequest itself; its context is in method/path/client.
        log_data.pop("request", None)
        return log_data


def configure(config: dict[str, Any]) -> None:
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _request_context.get()
        request = getattr(record, "request", None)
        if context is None and isinstance(request, HttpRequest):
            context = _context(request)
        for name, value in (context or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _context(request: HttpRequest) -> dict[str, Any]:
    return {"method": request.method, "path": request.path, "client": request_client_ip(request)}


def _begin(request: HttpRequest) -> contextvars.Token[dict[str, Any] | None]:
    return _request_context.set(_context(request))


def _end(token: contextvars.Token[dict[str, Any] | None], response: HttpResponseBase, started: float) -> None:
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    context = _request_context.get() or {}
    access_logger.info(
        "%s %s %s",
        context.get("method"),
        context.get("path"),
        response.status_code,
        extra={"status": response.status_code, "duration_ms": duration_ms},
    )
    _request_context.reset(token)


Handler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


@sync_and_async_middleware
def request_log(get_response: Handler | AsyncHandler) -> Handler | AsyncHandler:
    """Request context for every record logged while answering, and one access line at the end."""
    if iscoroutinefunction(get_response):
        async_get_response = cast(AsyncHandler, get_response)

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            started, token = time.monotonic(), _begin(request)
            response = await async_get_response(request)
            _end(token, response, started)
            return response

        return async_middleware

    sync_get_response = cast(Handler, get_response)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        started, token = time.monotonic(), _begin(request)
        response = sync_get_response(request)
        _end(token, response, started)
        return response

    return middleware
