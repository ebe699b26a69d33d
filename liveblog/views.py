"""Project-wide error views."""

import logging
import sys

from django.contrib.sessions.exceptions import SessionInterrupted
from django.views import defaults

from liveblog.middleware import database_unavailable_response, is_database_unavailable

logger = logging.getLogger(__name__)


def bad_request(request, exception):
    """Django's 400 page, or the 503 when saving the session failed because of the database.

    Django reports a session it could not update as SessionInterrupted (as if another request had
    logged the user out), which would tell an editor nothing about an outage.
    """
    if isinstance(exception, SessionInterrupted) and is_database_unavailable(exception):
        return _unavailable(request, exception)
    return defaults.bad_request(request, exception)


def server_error(request):
    """Django's 500 page, or the 503 when what failed was the database.

    DatabaseUnavailableMiddleware sees only what views raise. A database error in a middleware
    outside it (saving the session on the way out, say) reaches Django's handler, which calls this
    inside its `except` (asgiref carries the exception into the thread under ASGI too).
    """
    error = sys.exception()
    if error is not None and is_database_unavailable(error):
        return _unavailable(request, error)
    return defaults.server_error(request)


def _unavailable(request, error):
    logger.warning("Database unavailable, answering 503 to %s %s: %s", request.method, request.path, error)
    return database_unavailable_response(request)
