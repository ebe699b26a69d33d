"""503 instead of a traceback (or a false "saved") while the database is unreachable.

When PostgreSQL is down, restarting or out of connections, any request that touches it raises
OperationalError/InterfaceError: on connect, on a query or on COMMIT. Django would answer 500.
This middleware answers 503 with Retry-After and a message that says plainly that nothing was
saved, so editors try again (the composer keeps their text; the browser's back button keeps an
admin form) and the live client retries its catch-up later.

- The response is rendered without a request context: no context processor, no session or user
  lookup, nothing that could touch the database again. It still passes through every other
  middleware on its way out, so it carries the same security headers (CSP etc.) as any page.
- Messages queued by the failed request are dropped: the admin queues "… was added successfully"
  *inside* its transaction, before the COMMIT that may be the statement that fails.
- Only errors raised by views and templates reach `process_exception`. A database error in another
  middleware (e.g. saving a changed session on the way out) reaches Django's 400 or 500 handler:
  `bad_request` and `server_error` below answer the same 503 (liveblog/urls.py installs them).
"""

from __future__ import annotations

import logging
import sys

from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _
from django.views import defaults

from ops import metrics

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
TEMPLATE = "503.html"
# Clients of JSON endpoints (the catch-up, the API) get a stable English error, as for "busy".
JSON_ERROR = "database unavailable, try again shortly"


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) says the database cannot be reached right now.

    IntegrityError, ProgrammingError, DataError etc. are bugs or bad input, not an outage: they stay
    500s (or whatever the view makes of them).
    """
    current: BaseException | None = error
    for _depth in range(5):
        if current is None:
            return False
        if isinstance(current, (OperationalError, InterfaceError)) or type(current) is DatabaseError:
            return True
        # `raise … from` sets the cause; a raise inside `except` (Django's session UpdateError and
        # SessionInterrupted) only the context.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False


def _url_name(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.url_name or "") if match is not None else ""


def _wants_json(request: HttpRequest) -> bool:
    # The catch-up endpoint and the API answer JSON whatever the Accept header says.
    name = _url_name(request)
    if name == "liveblog-events" or name.startswith("api-"):
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request that hit an unreachable database; touches no database itself."""
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse({"error": JSON_ERROR}, status=503)
        if _url_name(request).startswith("api-"):
            response["Access-Control-Allow-Origin"] = "*"  # as every API answer (api/views.py)
    else:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            message = _("The database is briefly unavailable. Please try again in a moment.")
        else:
            message = _(
                "The database is briefly unavailable. Nothing was saved; please try again in a moment."
            )
        context = {"title": _("Briefly unavailable"), "message": message}
        # htmx (the composer) gets only the message; it shows an error on any 5xx and keeps the text.
        template = f"{TEMPLATE}#message" if getattr(request, "htmx", False) else TEMPLATE
        response = HttpResponse(render_to_string(template, context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    # MiddlewareMixin: sync and async capable, so it adds no sync/async switch under Daphne.

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        storage = getattr(request, "_messages", None)
        if storage is not None:
            # Nothing the failed request queued may reach the editor: its transaction did not commit.
            # (BaseStorage has no public way to drop queued messages without consuming older ones.)
            storage._queued_messages = []
        return _unavailable(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 page, or the 503 when saving the session failed because of the database.

    Django reports a session it could not update as SessionInterrupted (as if another request had
    logged the user out), which would tell an editor nothing about an outage.
    """
    if isinstance(exception, SessionInterrupted) and is_database_unavailable(exception):
        return _unavailable(request, exception)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, or the 503 when what failed was the database.

    Django calls this inside its `except`, so the error is at hand (asgiref carries it into the
    thread under ASGI too).
    """
    error = sys.exception()
    if error is not None and is_database_unavailable(error):
        return _unavailable(request, error)
    return defaults.server_error(request)


def _unavailable(request: HttpRequest, error: BaseException) -> HttpResponse:
    logger.warning("Database unavailable, answering 503 to %s %s: %s", request.method, request.path, error)
    metrics.unavailable("database")
    return database_unavailable_response(request)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's, except for responses whose view already said which language they are in.

    Reader pages, catch-ups and the API are in the *blog's* language whatever the browser prefers
    (the views set Content-Language). Django would still label them with the browser's language
    and add `Vary: Accept-Language`, splitting every cache entry by browser language for the same
    bytes. The admin and other pages keep Django's negotiation.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.has_header("Content-Language"):
            return response
        return super().process_response(request, response)
